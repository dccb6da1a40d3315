// base.ts: the one RL pipeline every algorithm runs in (ARCHITECTURE.md "One RL step, as data"):
// rollout G completions per prompt -> outcome rewards from the task's verifier -> steps and PRM
// scores where the algorithm needs them -> reference log-probs / rollout values -> the algorithm's
// advantages -> policy (and value) loss -> backward -> AdamW, in epochs and mini-batches; KL in the
// loss or in the reward (adaptive controller); metrics for every step.
import type { PolicyModel } from '../model/policy';
import type { Tokenizer } from '../model/tokenizer';
import type { ProcessRewardModel } from '../reward/prm';
import type { Problem, Task } from '../tasks/task';
import { Random } from '../util/random';
import { AdamW } from './adamw';
import type { Algorithm } from './algorithm';
import type { RolloutBatch } from './batch';
import { stepMetrics, type StepMetrics } from './metrics';
import { collectRollouts, responseLogprobs, responseValues, scoreSteps } from './rollout';
import { updatePolicy } from './update';

export interface TrainerOptions {
  policy: PolicyModel;
  /** Frozen reference policy, required when the algorithm or a KL term needs one. */
  reference?: PolicyModel;
  algorithm: Algorithm;
  task: Task;
  tokenizer: Tokenizer;
  prm?: ProcessRewardModel & { register?(problems: readonly Problem[]): void };
  /** B prompts per step and G rollouts per prompt. */
  promptsPerStep?: number;
  groupSize?: number;
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  lr?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  /** Rows per forward/backward (memory), independent of the mini-batch. */
  microBatchRows?: number;
  /** Size of the pool of training problems drawn from the task. */
  trainProblems?: number;
  seed?: number;
}

export class Trainer {
  readonly options: Required<Omit<TrainerOptions, 'reference' | 'prm'>> & Pick<TrainerOptions, 'reference' | 'prm'>;
  readonly optimizer: AdamW;
  #pool: Problem[];
  #step = 0;
  #rewardKlCoef: number;

  constructor(options: TrainerOptions) {
    this.options = {
      promptsPerStep: 16, groupSize: 8, maxNewTokens: 64, temperature: 1, topP: 1, topK: 0, lr: 1e-5, weightDecay: 0,
      maxGradNorm: 1, microBatchRows: 64, trainProblems: 4096, seed: 0, ...options,
    };
    const { algorithm } = this.options;
    if ((algorithm.needs.ref || algorithm.loss.klCoef > 0) && !options.reference)
      throw new Error(`steprl: ${algorithm.name} needs a reference model (TrainerOptions.reference)`);
    if (algorithm.needs.prm && !options.prm) throw new Error(`steprl: ${algorithm.name} needs a process reward model (TrainerOptions.prm)`);
    if (algorithm.needs.values && !options.policy.values) throw new Error(`steprl: ${algorithm.name} needs a policy with a value head (values())`);
    this.optimizer = new AdamW(options.policy.parameters(), { lr: this.options.lr, weightDecay: this.options.weightDecay, maxGradNorm: this.options.maxGradNorm });
    this.#pool = options.task.problems('train', this.options.trainProblems, this.options.seed);
    options.prm?.register?.(this.#pool);
    this.#rewardKlCoef = algorithm.rewardKl?.initial ?? 0;
  }

  get step(): number {
    return this.#step;
  }

  /** The problems of step `step`: a seeded permutation of the pool per epoch. */
  problemsFor(step: number): Problem[] {
    const B = this.options.promptsPerStep, N = this.#pool.length;
    const out: Problem[] = [];
    for (let j = 0; j < B; j++) {
      const index = step * B + j, epoch = Math.floor(index / N);
      out.push(this.#pool[this.#permutation(epoch)[index % N]]);
    }
    return out;
  }

  #permutations = new Map<number, number[]>();
  #permutation(epoch: number): number[] {
    let p = this.#permutations.get(epoch);
    if (!p) {
      p = new Random(this.options.seed * 7919 + epoch).shuffle(Array.from({ length: this.#pool.length }, (_, i) => i));
      this.#permutations.clear();
      this.#permutations.set(epoch, p);
    }
    return p;
  }

  /** One RL step; returns its metrics. */
  async trainStep(): Promise<StepMetrics> {
    const o = this.options, { algorithm } = o;
    const seconds: Record<string, number> = {};
    const timed = async <T>(phase: string, run: () => Promise<T> | T): Promise<T> => {
      const start = performance.now();
      const result = await run();
      seconds[phase] = (seconds[phase] ?? 0) + (performance.now() - start) / 1000;
      return result;
    };
    const stepSeed = (o.seed * 1000003 + this.#step * 7919) >>> 0;
    const batch: RolloutBatch = await timed('rollout', () => collectRollouts(o.policy, o.tokenizer, o.task, this.problemsFor(this.#step), {
      groupSize: o.groupSize,
      sampling: { maxNewTokens: o.maxNewTokens, temperature: o.temperature, topP: o.topP, topK: o.topK, stopTokens: [o.tokenizer.eosId], seed: stepSeed },
    }));
    if (algorithm.needs.steps) {
      const segmentation = (algorithm as { segmentation?: { maxBranches: number; minGap: number } }).segmentation ?? { maxBranches: 5, minGap: 10 };
      await timed('score', () => scoreSteps(batch, o.tokenizer, algorithm.needs.steps!, algorithm.needs.prm ? o.prm : undefined, segmentation));
    }
    if (o.reference && (algorithm.needs.ref || algorithm.loss.klCoef > 0))
      batch.refLogprobs = await timed('reference', () => responseLogprobs(o.reference!, batch, o.temperature, o.microBatchRows));
    if (algorithm.needs.values) batch.oldValues = await timed('values', () => responseValues(o.policy, batch, o.microBatchRows));
    const adv = await timed('advantages', () => algorithm.advantages(batch, { prm: o.prm, rewardKlCoef: this.#rewardKlCoef }));
    const update = await timed('update', () => updatePolicy(o.policy, this.optimizer, algorithm.loss, { batch, advantages: adv.advantages, returns: adv.returns }, {
      temperature: o.temperature, lr: o.lr, microBatchRows: o.microBatchRows, maxLength: o.maxNewTokens,
      random: new Random(stepSeed ^ 0x5bd1e995), critic: Boolean(algorithm.needs.values),
    }));
    const metrics = stepMetrics(this.#step, batch, adv, update, seconds, this.#rewardKlCoef, o.lr);
    this.#adaptRewardKl(batch);
    this.#step++;
    return metrics;
  }

  /** PPO's adaptive KL controller: β ← β·(1 + clip(KL/target − 1, ±0.2)·R/horizon) (§1.8). */
  #adaptRewardKl(batch: RolloutBatch): void {
    const control = this.options.algorithm.rewardKl;
    if (!control?.target || !control.horizon || !batch.refLogprobs) return;
    let sum = 0;
    for (let i = 0; i < batch.mask.length; i++) if (batch.mask[i]) sum += batch.oldLogprobs[i] - batch.refLogprobs[i];
    const observed = sum / batch.R;
    const error = Math.min(Math.max(observed / control.target - 1, -0.2), 0.2);
    this.#rewardKlCoef *= 1 + (error * batch.R) / control.horizon;
  }

  /** What resuming needs besides the policy weights. */
  state(): { step: number; rewardKlCoef: number } {
    return { step: this.#step, rewardKlCoef: this.#rewardKlCoef };
  }

  restore(state: { step: number; rewardKlCoef: number }): void {
    this.#step = state.step;
    this.#rewardKlCoef = state.rewardKlCoef;
  }
}
