// limits.test.ts: each process-supervised method reduces to its outcome-only (or linear) baseline in
// the limit where its own signal vanishes, both in its advantages and in a whole RL step's update:
//   PRL with η → ∞ is GRPO (β = 0);
//   PRPO with a constant PRM is GRPO with Dr. GRPO's centring (no σ) on PRPO's ±1 outcome;
//   PSPO-WRS with flat shaping (Weibull k = 1, C = λ → ∞: h(n) → 1) is its linear baseline R = s̄.
// Every limit is checked against a control with the signal on (small η, a varying PRM, the default
// Weibull) that must differ, so the tests cannot pass by comparing a thing with itself.
import { taskEnvironment } from '../../lib/text/task';
import { TinyLM } from '../../lib/model/tinylm';
import { Trainer } from '../../lib/optim/base';
import type { Algorithm } from '../../lib/optim/algorithm';
import type { RolloutBatch } from '../../lib/optim/batch';
import { grpo } from '../../lib/optim/grpo';
import { prl } from '../../lib/optim/prl';
import { prpo } from '../../lib/optim/prpo';
import { pspo, shapedRewards } from '../../lib/optim/pspo';
import { collectRollouts, responseLogprobs, scoreSteps } from '../../lib/optim/rollout';
import type { ProcessRewardModel } from '../../lib/reward/prm';
import { RuleBasedPRM } from '../../lib/reward/prm';
import { newlineSplitter } from '../../lib/reward/splitters';
import type { Problem, Verdict } from '../../lib/tasks/task';
import { ToyTask, ToyTokenizer } from './toy';

const tokenizer = new ToyTokenizer();
const task = new ToyTask();
const CONFIG = { vocabSize: 8, hiddenSize: 32, numLayers: 1, numHeads: 2, intermediateSize: 64, maxPositions: 32 };

/** A PRM that gives every step the same score. */
class ConstantPRM implements ProcessRewardModel {
  constructor(readonly value: number) {}
  scoreSteps(_prompt: string, steps: readonly string[]): number[] {
    return steps.map(() => this.value);
  }
}

/** The toy task with PRPO's outcome scale: reward +1 when correct, −1 otherwise. */
class PlusMinusTask extends ToyTask {
  override verify(problem: Problem, response: string): Verdict {
    const v = super.verify(problem, response);
    return { ...v, reward: v.correct ? 1 : -1 };
  }
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/**
 * One RL step of `algorithm` from a fixed start (policy seed 3) against a reference that differs
 * from it (seed 4, so PRL's log-ratio S is far from 0); returns the weights after the step and the
 * step's change of the weights.
 */
async function oneStep(algorithm: Algorithm, options: { prm?: ProcessRewardModel; task?: ToyTask; critic?: boolean } = {}) {
  const policy = TinyLM.create({ ...CONFIG, valueHead: options.critic ?? false }, { seed: 3 });
  const reference = TinyLM.create(CONFIG, { seed: 4 });
  const before = policy.weightBuffer.toArray() as Float32Array;
  const trainer = new Trainer({
    policy, reference, algorithm, task: options.task ?? task, tokenizer, prm: options.prm ?? new RuleBasedPRM(task),
    promptsPerStep: 6, groupSize: 8, maxNewTokens: 6, lr: 1e-2, microBatchRows: 16, trainProblems: 12, seed: 5,
  });
  await trainer.trainStep();
  const after = policy.weightBuffer.toArray() as Float32Array;
  policy.dispose();
  reference.dispose();
  return { after, change: maxAbsDiff(after, before) };
}

/** A rollout batch of the toy task with reference log-probs from a different model and newline steps. */
async function toyBatch(prm: ProcessRewardModel, splitter: Parameters<typeof scoreSteps>[2] = newlineSplitter): Promise<RolloutBatch> {
  const policy = TinyLM.create(CONFIG, { seed: 3 });
  const reference = TinyLM.create(CONFIG, { seed: 4 });
  const problems = task.problems('train', 6);
  const batch = await collectRollouts(policy, tokenizer, taskEnvironment(task), problems, { groupSize: 8, sampling: { maxNewTokens: 6, temperature: 1, stopTokens: [tokenizer.eosId], seed: 11 } });
  (prm as { register?: (p: readonly Problem[]) => void }).register?.(problems);
  await scoreSteps(batch, tokenizer, splitter, prm, { maxBranches: 5, minGap: 1 });
  batch.refLogprobs = await responseLogprobs(reference, batch, 1);
  policy.dispose();
  reference.dispose();
  return batch;
}

describe('PRL with η → ∞ is GRPO', () => {
  test('advantages: Â broadcast to every token; a finite η moves them', async () => {
    const batch = await toyBatch(new RuleBasedPRM(task));
    // Mixed groups, and a log-ratio far from 0, so both signals are present.
    expect(new Set(batch.rewards).size).toBe(2);
    const grpoA = (await grpo().advantages(batch, { rewardKlCoef: 0 })).advantages;
    const limit = (await prl({ splitter: newlineSplitter, eta: 1e30 }).advantages(batch, { rewardKlCoef: 0 })).advantages;
    expect(maxAbsDiff(limit, grpoA)).toBeLessThan(1e-6);
    const finite = (await prl({ splitter: newlineSplitter, eta: 1 }).advantages(batch, { rewardKlCoef: 0 })).advantages;
    expect(maxAbsDiff(finite, grpoA)).toBeGreaterThan(0.05);
  });

  test("a whole step's update equals GRPO's (β = 0, token-mean, clip 0.2)", async () => {
    const g = await oneStep(grpo({ klCoef: 0 }));
    const limit = await oneStep(prl({ splitter: newlineSplitter, eta: 1e30 }));
    const finite = await oneStep(prl({ splitter: newlineSplitter, eta: 1 }));
    expect(g.change).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(limit.after, g.after)).toBeLessThan(1e-6 * g.change + 1e-9);
    expect(maxAbsDiff(finite.after, g.after)).toBeGreaterThan(0.01 * g.change);
  });
});

describe('PRPO with a constant PRM is GRPO (Dr. GRPO centring of the ±1 outcome)', () => {
  test('advantages: the fixed prior at its mean (s ≡ 0.5) and the empirical prior at any constant give β_i = r_i − mean_g r', async () => {
    const batch = await toyBatch(new ConstantPRM(0.5), 'entropy');
    // On the 0/1 reward, Dr. GRPO's centred advantage is half of PRPO's ±1 one.
    const drGrpo = (await grpo({ variant: 'dr-grpo' }).advantages(batch, { rewardKlCoef: 0 })).advantages;
    const fixed = (await prpo({ minGap: 1 }).advantages(batch, { rewardKlCoef: 0 })).advantages;
    expect(maxAbsDiff(fixed, Float32Array.from(drGrpo, (a) => 2 * a))).toBeLessThan(1e-6);
    const constant = await toyBatch(new ConstantPRM(0.8), 'entropy');
    const empirical = (await prpo({ minGap: 1, prior: 'empirical' }).advantages(constant, { rewardKlCoef: 0 })).advantages;
    expect(maxAbsDiff(empirical, Float32Array.from(drGrpo, (a) => 2 * a))).toBeLessThan(1e-5);
    // A PRM that varies moves them.
    const varying = await toyBatch(new RuleBasedPRM(task), 'entropy');
    const process = (await prpo({ minGap: 1 }).advantages(varying, { rewardKlCoef: 0 })).advantages;
    expect(maxAbsDiff(process, Float32Array.from(drGrpo, (a) => 2 * a))).toBeGreaterThan(0.5);
  });

  test("a whole step's update equals GRPO's with σ off on the ±1 reward (k3 β = 0.001, token-mean)", async () => {
    const pm = new PlusMinusTask();
    const g = await oneStep(grpo({ scale: 'none', klCoef: 0.001 }), { task: pm });
    const constant = await oneStep(prpo({ minGap: 1 }), { task: pm, prm: new ConstantPRM(0.5) });
    const varying = await oneStep(prpo({ minGap: 1 }), { task: pm, prm: new RuleBasedPRM(pm) });
    expect(g.change).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(constant.after, g.after)).toBeLessThan(1e-6 * g.change + 1e-9);
    expect(maxAbsDiff(varying.after, g.after)).toBeGreaterThan(0.01 * g.change);
  });
});

describe('PSPO-WRS with flat shaping is its linear baseline', () => {
  // Weibull with k = 1 and C = λ: h(n) = exp(−n/λ), which is 1 to float32 precision for λ = 2^30.
  const flat = { shaping: 'weibull' as const, k: 1, lambdaWeibull: 2 ** 30, peak: 2 ** 30, minSteps: 1 };
  const linear = { shaping: 'linear' as const, minSteps: 1 };

  test('shaped rewards: flat Weibull = s̄; the default Weibull is not', async () => {
    const batch = await toyBatch(new RuleBasedPRM(task));
    const lin = shapedRewards(batch, linear);
    expect(maxAbsDiff(shapedRewards(batch, flat), lin)).toBeLessThan(1e-6);
    expect(maxAbsDiff(shapedRewards(batch, { minSteps: 1 }), lin)).toBeGreaterThan(0.05);
  });

  test.each([['critic-free', false], ['critic (PPO)', true]] as const)("%s: a whole step's update equals the linear baseline's", async (_name, critic) => {
    const common = { splitter: newlineSplitter, critic, epochs: 2, miniBatches: 2 };
    const lin = await oneStep(pspo({ ...common, ...linear }), { critic });
    const limit = await oneStep(pspo({ ...common, ...flat }), { critic });
    const weibull = await oneStep(pspo({ ...common, minSteps: 1 }), { critic });
    expect(lin.change).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(limit.after, lin.after)).toBeLessThan(1e-6 * lin.change + 1e-9);
    expect(maxAbsDiff(weibull.after, lin.after)).toBeGreaterThan(0.01 * lin.change);
  });
});
