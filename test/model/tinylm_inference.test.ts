// tinylm_inference.test.ts: TinyLM's inference passes (train: false: an evaluation, a reference
// model's log-probs) run every layer in one set of aliased buffers (activations.ts) and give the
// bits of a training forward: logits, final hidden states and value-head estimates, with left-padded
// rows, for q/k/v biases and for Qwen3's q/k norms. On every device.
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
      expect(inferred.logits).toEqual(trained.logits);
      expect(inferred.hidden).toEqual(trained.hidden);
      if (config.valueHead) {
        await model.hidden(tokens, { train: true, attentionStart });
        const fromTraining = (await model.values(tokens, { attentionStart })).toArray();
        const other = Tensor.from(tokens.toArray() as Int32Array, [B, T], { device });  // not the training pass's input: a fresh inference pass
        expect((await model.values(other, { attentionStart })).toArray()).toEqual(fromTraining);
      }
      model.dispose();
    });
  });
}

