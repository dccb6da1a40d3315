// tinylm_inference.test.ts: TinyLM's inference passes (train: false: an evaluation, a reference
// model's log-probs) run every layer in one set of aliased buffers (activations.ts) and give the
// bits of a training forward: logits, final hidden states and value-head estimates, with left-padded
// rows, for q/k/v biases and for Qwen3's q/k norms. On every device (on cuda up to float32 rounding:
// its matmul writing over its residual input, as in decode, may round the sum differently).
import { Tensor, type Device } from '../../lib';
import { TinyLM } from '../../lib/model/tinylm';
import type { TinyLMConfigInput } from '../../lib/model/config';
import { devices } from '../util/devices';
import { Rng } from '../util/random';

const CONFIGS: Record<string, TinyLMConfigInput> = {
  'qwen2 q/k/v bias, tied embeddings, value head': {
    architecture: 'qwen2', vocabSize: 50, hiddenSize: 32, intermediateSize: 64, numLayers: 3, numHeads: 4, numKvHeads: 2,
    tieEmbeddings: true, ropeTheta: 1e6, rmsNormEps: 1e-6, valueHead: true,
  },
  'qwen3 q/k norm, GQA, head_dim != hidden/heads': {
    architecture: 'qwen3', vocabSize: 53, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16,
    tieEmbeddings: false, ropeTheta: 1e6, rmsNormEps: 1e-6,
  },
};

/** Bit-identical on the cpu; on cuda within float32 rounding of the largest |value|. */
function expectSame(device: Device, actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  if (device === 'cpu') {
    expect(actual).toEqual(expected);
    return;
  }
  let scale = 0, worst = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(actual.length).toBe(expected.length);
  expect(worst).toBeLessThanOrEqual(1e-6 * Math.max(scale, 1e-30));
}

for (const device of devices() as Device[]) {
  describe(`TinyLM inference passes on ${device}`, () => {
    test.each(Object.keys(CONFIGS))('%s: logits, hidden states and values are those of a training forward', async (label) => {
      const config = CONFIGS[label];
      const model = TinyLM.create(config, { seed: 3, device });
      const rng = new Rng(9);
      const B = 3, T = 7, V = config.vocabSize;
      const tokens = Tensor.from(rng.ints(B * T, 0, V), [B, T], { device });
      const attentionStart = Int32Array.from([0, 2, 4]);
      const trained = {
        logits: (await model.forward(tokens, { train: true, attentionStart })).toArray(),
        hidden: (await model.hidden(tokens, { train: true, attentionStart })).hidden.toArray(),
      };
      const inferred = {
        logits: (await model.forward(tokens, { attentionStart })).toArray(),
        hidden: (await model.hidden(tokens, { attentionStart })).hidden.toArray(),
      };
      expectSame(device, inferred.logits as Float32Array, trained.logits as Float32Array);
      expectSame(device, inferred.hidden as Float32Array, trained.hidden as Float32Array);
      if (config.valueHead) {
        await model.hidden(tokens, { train: true, attentionStart });
        const fromTraining = (await model.values(tokens, { attentionStart })).toArray();
        const other = Tensor.from(tokens.toArray() as Int32Array, [B, T], { device });  // not the training pass's input: a fresh inference pass
        expectSame(device, (await model.values(other, { attentionStart })).toArray() as Float32Array, fromTraining as Float32Array);
      }
      model.dispose();
    });
  });
}

