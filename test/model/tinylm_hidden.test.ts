// tinylm_hidden.test.ts: TinyLM's hidden-state path (PolicyModel.hidden / backwardHidden) against
// its logits path: the same log-probs at the response positions and the same gradient in every
// parameter (the lm_head's, or the tied embedding's, accumulated by linearTokenLogprobsBackward),
// with left-padded rows; misuse throws. On every device.
import { ArgumentError, Tensor, ops, type Device } from '../../lib';
import { TinyLM } from '../../lib/model/tinylm';
import type { TinyLMConfigInput } from '../../lib/model/config';
import { responsePositions } from '../../lib/optim/hidden_path';
import { devices } from '../util/devices';
import { Rng } from '../util/random';

const CONFIGS: Record<string, TinyLMConfigInput> = {
  'llama GQA, untied head, value head': {
    architecture: 'llama', vocabSize: 61, hiddenSize: 48, intermediateSize: 80, numLayers: 2, numHeads: 6, numKvHeads: 2,
    tieEmbeddings: false, ropeTheta: 10000, rmsNormEps: 1e-5, valueHead: true,
  },
  'qwen2 q/k/v bias, tied embeddings': {
    architecture: 'qwen2', vocabSize: 50, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 4,
    tieEmbeddings: true, ropeTheta: 1e6, rmsNormEps: 1e-6,
  },
};

const B = 3, P = 4, T = 5, W = P + T;

function closeRelative(name: string, actual: Float32Array, expected: Float32Array, rtol = 2e-5): void {
  let scale = 0;
  for (const e of expected) scale = Math.max(scale, Math.abs(e));
  for (let i = 0; i < expected.length; i++)
    if (!(Math.abs(actual[i] - expected[i]) <= rtol * (scale || 1)))
      throw new Error(`${name}: element ${i} is ${actual[i]} but the logits path gives ${expected[i]} (largest |value| ${scale})`);
}

for (const device of devices()) {
  describe(`TinyLM hidden-state path on ${device}`, () => {
    test.each(Object.keys(CONFIGS))('%s: log-probs and every gradient equal the logits path', async (label) => {
      const config = CONFIGS[label];
      const model = TinyLM.create(config, { seed: 5, device: device as Device });
      const V = model.vocabSize;
      const rng = new Rng(11);
      const tokens = Tensor.from(rng.ints(B * W, 0, V), [B, W], { device });
      const attentionStart = Int32Array.from([0, 2, 1]);
      const targets = Tensor.from(rng.ints(B * T, 0, V), [B * T], { device });
      const g = Tensor.from(rng.floats(B * T, 1), [B * T], { device });
      const dvalues = config.valueHead ? Tensor.from(rng.floats(B * W, 0.5), [B, W], { device }) : undefined;

      // Logits path: pick the response positions' logits, token log-probs, scatter the gradient back.
      model.zeroGrad();
      const logits = await model.forward(tokens, { train: true, attentionStart });
      const picked = Tensor.zeros([B * T, V], { device });
      for (let r = 0; r < B; r++) picked.view(r * T * V, [T, V]).copyFrom(logits.view((r * W + P - 1) * V, [T, V]));
      const plain = ops.tokenLogprobs(picked, targets);
      const dpicked = ops.tokenLogprobsBackward(picked, targets, plain.logZ, g);
      const dlogits = Tensor.zeros([B, W, V], { device });
      for (let r = 0; r < B; r++) dlogits.view((r * W + P - 1) * V, [T, V]).copyFrom(dpicked.view(r * T * V, [T, V]));
      await model.backward(dlogits, dvalues);
      const gradsLogits = model.gradBuffer.toArray() as Float32Array;

      // Hidden path.
      model.zeroGrad();
      const states = await model.hidden(tokens, { train: true, attentionStart });
      expect(states.hidden.shape).toEqual([B * W, config.hiddenSize]);
      const rows = responsePositions(B, P, T, device as Device);
      const fused = ops.linearTokenLogprobs(states.hidden, states.lmHead, targets, { rows });
      closeRelative('logprobs', fused.logprobs.toArray() as Float32Array, plain.logprobs.toArray() as Float32Array);
      const dhidden = ops.linearTokenLogprobsBackward(states.hidden, states.lmHead, targets, fused.logZ, g,
        { rows, dweight: states.lmHeadGrad! });
      await model.backwardHidden(dhidden, dvalues);
      const gradsHidden = model.gradBuffer.toArray() as Float32Array;
      for (const spec of model.specs)
        closeRelative(spec.name, gradsHidden.subarray(spec.offset, spec.offset + spec.numel),
          gradsLogits.subarray(spec.offset, spec.offset + spec.numel), 1e-5);
      model.dispose();
    });

    test('backward and backwardHidden each need their own kind of training forward', async () => {
      const config = CONFIGS['qwen2 q/k/v bias, tied embeddings'];
      const model = TinyLM.create(config, { seed: 1, device: device as Device });
      const tokens = Tensor.from(new Int32Array(2 * W).fill(3), [2, W], { device });
      await model.hidden(tokens, { train: true });
      await expect(model.backward(Tensor.zeros([2, W, model.vocabSize], { device }))).rejects.toThrow(ArgumentError);
      await expect(model.backwardHidden(Tensor.zeros([2 * W, 7], { device }))).rejects.toThrow('dhidden');
      await model.backwardHidden(Tensor.zeros([2 * W, config.hiddenSize!], { device }));
      await expect(model.backwardHidden(Tensor.zeros([2 * W, config.hiddenSize!], { device }))).rejects.toThrow('already run');
      await model.forward(tokens, { train: true });
      await expect(model.backwardHidden(Tensor.zeros([2 * W, config.hiddenSize!], { device }))).rejects.toThrow('hidden(tokens, { train: true })');
      model.dispose();
    });
  });
}
