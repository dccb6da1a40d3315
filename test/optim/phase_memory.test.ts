// phase_memory.test.ts: what a GRPO step keeps resident between its phases. An inference pass of
// TinyLM holds one layer's activations (test/model/tinylm_inference.test.ts: with a training
// forward's bits); releaseActivations() frees a model's pass memory (a backward then needs a new
// training forward); and after a Trainer step the addon holds no more host memory than the models'
// buffers and the optimizer's moments (no activation arena, no cached KV cache or workspace), on the
// hidden-state path and for a critic.
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

import { ArgumentError, Tensor, hostMemory, trimHostCache } from '../../lib';
import { TinyLM } from '../../lib/model/tinylm';
import type { TinyLMConfigInput } from '../../lib/model/config';
import { Trainer } from '../../lib/optim/base';
import { grpo } from '../../lib/optim/grpo';
import { ppo } from '../../lib/optim/ppo';
import { Rng } from '../util/random';
import { ToyTask, ToyTokenizer } from './toy';

/**
 * Runs a full garbage collection. The addon outlives the test files a jest worker runs, so host
 * memory that earlier files left for the collector still counts as live here until it runs: a
 * baseline is taken after collecting, and the step's own memory is measured against it.
 */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

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

describe('Tensor.zerosReleasable', () => {
  test('zero-filled addon memory that dispose() frees at once; bad options are typed errors', () => {
    collectGarbage();
    trimHostCache();
    const before = hostMemory().liveBytes;
    for (const dtype of ['float32', 'int32', 'uint8', 'bfloat16'] as const) {
      const t = Tensor.zerosReleasable([3, 1000], { dtype });
      expect(t.dtype).toBe(dtype);
      expect(t.shape).toEqual([3, 1000]);
      expect(hostMemory().liveBytes).toBeGreaterThan(before);
      expect(Array.from(t.toArray() as ArrayLike<number>).every((x) => x === 0)).toBe(true);
      t.fill(1);
      t.dispose();
      expect(hostMemory().liveBytes).toBe(before);
    }
    // A large block (2 MiB) goes to the pool's cache when disposed; made again, it is zero-filled again.
    const large = Tensor.zerosReleasable([512, 1024]);
    large.fill(3);
    large.dispose();
    expect(hostMemory().cachedBytes).toBeGreaterThanOrEqual(2 ** 21);
    const again = Tensor.zerosReleasable([512, 1024]);
    expect(hostMemory().cachedBytes).toBe(0);
    expect((again.toArray() as Float32Array).every((x) => x === 0)).toBe(true);
    again.dispose();
    expect(() => Tensor.zerosReleasable([2], { dtype: 'float64' as never })).toThrow(ArgumentError);
    expect(() => Tensor.zerosReleasable([2], { device: 'tpu' as never })).toThrow(ArgumentError);
    expect(() => Tensor.zerosReleasable([-1])).toThrow();
  });
});

describe('TinyLM activation memory', () => {
  const config = { ...CONFIGS['qwen2 q/k/v bias, tied embeddings, value head'], numLayers: 6 };
  const live = () => {
    trimHostCache();
    return hostMemory().liveBytes;
  };

  test('an inference pass holds one layer of activations; releaseActivations frees every pass', async () => {
    const model = TinyLM.create(config, { seed: 1 });
    const B = 4, T = 32;
    const tokens = Tensor.from(new Rng(1).ints(B * T, 0, config.vocabSize), [B, T]);
    collectGarbage();
    const base = live();
    await model.hidden(tokens, { train: true });
    const training = live() - base;
    model.releaseActivations();
    expect(live()).toBe(base);
    await model.hidden(tokens);
    const inference = live() - base;
    // Per token: a training pass keeps every layer's buffers and the backward's scratch, an
    // inference pass one layer's (plus the final norm and the value head).
    expect(inference).toBeLessThan(training / 4);
    model.releaseActivations();
    expect(live()).toBe(base);
    await expect(model.backwardHidden(Tensor.zeros([B * T, model.config.hiddenSize]))).rejects.toThrow(ArgumentError);
    // The model works as before after a release.
    await model.hidden(tokens, { train: true });
    await model.backwardHidden(Tensor.zeros([B * T, model.config.hiddenSize]));
    model.dispose();
  });
});

describe('Trainer phases', () => {
  const tokenizer = new ToyTokenizer();
  const task = new ToyTask();
  const config = { vocabSize: 8, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 24, maxPositions: 32 };

  test.each([
    ['grpo with a reference', false],
    ['ppo with a critic', true],
  ] as const)('%s: after a step the addon holds no host memory (arenas, KV caches, workspaces freed, not left to garbage collection)', async (_name, critic) => {
    const model = TinyLM.create({ ...config, valueHead: critic }, { seed: 1 });
    const reference = TinyLM.create(config, { seed: 2 });
    const trainer = new Trainer({
      policy: model, reference, algorithm: critic ? ppo() : grpo({ klCoef: 0.05 }), task, tokenizer,
      promptsPerStep: 2, groupSize: 4, maxNewTokens: 6, lr: 1e-3, microBatchRows: 3, trainProblems: 6, seed: 4,
    });
    // The weights, gradients and AdamW moments are JS-made arrays; what the addon makes during a step
    // (activation arenas, the rollout's KV cache and workspaces, op outputs) is freed by its end,
    // without waiting for the collector.
    collectGarbage();
    trimHostCache();
    const before = hostMemory().liveBytes;
    for (let i = 0; i < 2; i++) {
      await trainer.trainStep();
      expect(hostMemory()).toMatchObject({ liveBytes: before, cachedBytes: 0 });
    }
    model.dispose();
    reference.dispose();
  });
});
