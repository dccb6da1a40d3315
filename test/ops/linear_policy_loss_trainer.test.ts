// linear_policy_loss_trainer.test.ts: the Trainer's hidden path runs the policy loss inside
// ops.linearPolicyLoss (one pass over the vocabulary) when the algorithm's loss mode allows, and its
// step equals the two-pass step (linearTokenLogprobs → policyLoss → linearTokenLogprobsBackward):
// with one 1024-token block the gradients have the same bits, so the step's parameters and stats
// do too. gspo falls back to the two-pass path. On cuda (when tested) the same, with the policy and
// reference on the device: the cuda one-pass kernel against the cuda two-pass kernels.
import { TinyLM } from '../../lib/model/tinylm';
import { Trainer } from '../../lib/optim/base';
import { grpo } from '../../lib/optim/grpo';
import { ppo } from '../../lib/optim/ppo';
import { cispo } from '../../lib/optim/cispo';
import { gspo } from '../../lib/optim/gspo';
import type { Algorithm } from '../../lib/optim/algorithm';
import { onePassLossRuns, setOnePassLoss } from '../../lib/optim/hidden_path';
import { ToyTask, ToyTokenizer } from '../optim/toy';
import { describeOn } from '../util/devices';
import type { Device } from '../../lib';

const tokenizer = new ToyTokenizer();
const task = new ToyTask();

async function step(algorithm: () => Algorithm, critic: boolean, onePass: boolean, device: Device = 'cpu') {
  const config = { vocabSize: 8, hiddenSize: 32, numLayers: 1, numHeads: 2, intermediateSize: 64, maxPositions: 32, valueHead: critic };
  const model = TinyLM.create(config, { seed: 3, device });
  const reference = TinyLM.create({ ...config, valueHead: false }, { seed: 9, device });
  const trainer = new Trainer({
    policy: model, reference, algorithm: algorithm(), task, tokenizer,
    promptsPerStep: 4, groupSize: 6, maxNewTokens: 5, lr: 1e-3, microBatchRows: 5, trainProblems: 6, seed: 1,
  });
  setOnePassLoss(onePass);
  const before = onePassLossRuns();
  try {
    const stats = await trainer.trainStep();
    const params = model.parameters().map((p) => Array.from(p.value.toArray() as Float32Array));
    return { grads: model.gradBuffer.toArray() as Float32Array, params, stats, runs: onePassLossRuns() - before };
  } finally {
    setOnePassLoss(true);
  }
}

const ALGORITHMS = [
  ['grpo with a KL reference', () => grpo({ klCoef: 0.05 }), false],
  ['ppo with a critic and dual clip', () => ppo({ dualClip: 3 }), true],
  ['cispo', () => cispo(), false],
] as const;

async function expectSameStep(algorithm: () => Algorithm, critic: boolean, device: Device) {
  const one = await step(algorithm, critic, true, device);
  const two = await step(algorithm, critic, false, device);
  expect(one.runs).toBeGreaterThan(0);
  expect(two.runs).toBe(0);
  let scale = 0;
  for (const g of two.grads) scale = Math.max(scale, Math.abs(g));
  expect(scale).toBeGreaterThan(0);
  expect(one.grads).toEqual(two.grads);
  expect(one.params).toEqual(two.params);
  const { seconds: _s1, cpuSeconds: _c1, tokensPerSecond: _t1, ...oneStats } = one.stats as unknown as Record<string, unknown>;
  const { seconds: _s2, cpuSeconds: _c2, tokensPerSecond: _t2, ...twoStats } = two.stats as unknown as Record<string, unknown>;
  expect(oneStats).toEqual(twoStats);  // every figure but the timings
}

describeOn('cuda', 'Trainer on cuda: one-pass policy loss on the hidden path', () => {
  test.each(ALGORITHMS)('%s: the same step as the cuda two-pass path, bit for bit', async (_name, algorithm, critic) => {
    await expectSameStep(algorithm, critic, 'cuda');
  });
});

describeOn('cpu', 'Trainer: one-pass policy loss on the hidden path', () => {
  test.each(ALGORITHMS)('%s: the same step as the two-pass path, bit for bit', async (_name, algorithm, critic) => {
    await expectSameStep(algorithm, critic, 'cpu');
  });

  test('gspo (a sequence-level gradient) takes the two-pass path', async () => {
    const one = await step(() => gspo(), false, true);
    expect(one.runs).toBe(0);
  });
});
