// base.ts: the one RL pipeline every algorithm runs in (ARCHITECTURE.md "One RL step, as data"):
// rollout G completions per prompt -> outcome rewards from the reward functions (or the task's
// verifier) -> steps and PRM scores where the algorithm needs them -> reference log-probs / rollout
// values -> the algorithm's advantages -> policy (and value) loss -> backward -> AdamW, in epochs
// and mini-batches; KL in the loss or in the reward (adaptive controller); metrics for every step.
// With DAPO's dynamic sampling (dynamic_sampling.ts) the rollout runs in rounds of fresh prompts
// until the batch holds B groups whose rewards vary.
// Samples, prompt formats and reward functions are text-level (lib/text/); a Task is one way to
// give them.
import type { PolicyModel } from '../model/policy';
import type { Tokenizer } from '../model/tokenizer';
import { ArgumentError } from '../errors';
import type { ProcessRewardModel } from '../reward/prm';
import type { StepSplitter } from '../reward/splitters';
import type { Task } from '../tasks/task';
import { loadSamples, readJsonl, samplesOf, splitOf, type LoadedSample, type SampleSource } from '../text/dataset';
import { promptFormatFor, type PromptFormat } from '../text/prompt';
import { combineRewards, toPrm, type PrmFunction, type RewardFunction, type Verifier, type WeightedReward } from '../text/reward';
import { taskReward } from '../text/task';
import { Random } from '../util/random';
import { AdamW } from './adamw';
import type { Algorithm } from './algorithm';
import { attachedTensor, attachTensor, type RolloutBatch } from './batch';
import { collectDynamic, dynamicSamplingSettings, type DynamicSamplingOptions, type DynamicSamplingStats } from './dynamic_sampling';
import { deviceTokenSums, stepMetrics, type StepMetrics, type TokenSums } from './metrics';
import { collectRollouts, residentLogprobs, residentValues, scoreSteps, type RolloutSource } from './rollout';
import { Tensor } from '../tensor';
import { updatePolicy } from './update';
import { scope } from '../scope';
import { trimHostCache } from '../runtime';

export interface TrainerOptions {
  policy: PolicyModel;
  /** Frozen reference policy, required when the algorithm or a KL term needs one. */
  reference?: PolicyModel;
  algorithm: Algorithm;
  tokenizer: Tokenizer;
  /**
   * Training samples `{ prompt, answer?, ... }`: a JSONL path, an array, or a (sync or async)
   * iterable (read up to `trainProblems` samples). Samples with `split: "test"` are left out.
   * Default: `trainProblems` problems of `task`.
   */
  dataset?: SampleSource;
  /** Reward function(s) of (completion, sample), summed with weights; default: the task's verifier. */
  reward?: RewardFunction<LoadedSample> | readonly (RewardFunction<LoadedSample> | WeightedReward<LoadedSample>)[];
  /** A reward sum at or above this counts as correct (unless a reward function says). Default 1. */
  correctThreshold?: number;
  /** One way to provide both samples and rewards: a Task (its problems and verifier). */
  task?: Task;
  /** Prompt rendering: default the tokenizer's chat template when it has one, else plainPromptFormat(). */
  promptFormat?: PromptFormat | 'chat' | 'plain';
  /** Step splitter for algorithms that score steps (overrides the algorithm's own, e.g. PRPO's entropy segments). */
  splitter?: StepSplitter | 'entropy';
  /** Process reward model: an object with scoreSteps, or a function (prompt, steps, sample) => scores. */
  prm?: (ProcessRewardModel & { register?(problems: readonly never[]): void }) | PrmFunction;
  /** Completions from elsewhere (e.g. a served model); the policy recomputes their log-probs. */
  rolloutSource?: RolloutSource;
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
  /** DAPO's dynamic sampling for any algorithm (true, false or its settings); default the algorithm's own. */
  dynamicSampling?: boolean | DynamicSamplingOptions;
}

type Defaulted = 'promptsPerStep' | 'groupSize' | 'maxNewTokens' | 'temperature' | 'topP' | 'topK' | 'lr' | 'weightDecay' | 'maxGradNorm' |
  'microBatchRows' | 'trainProblems' | 'seed';

export class Trainer {
  readonly options: Required<Pick<TrainerOptions, Defaulted>> & Omit<TrainerOptions, Defaulted | 'prm'> & { prm?: ProcessRewardModel };
  readonly optimizer: AdamW;
  readonly promptFormat: PromptFormat;
  readonly verify: Verifier<LoadedSample>;
  #pool: LoadedSample[] | null = null;
  #loading: Promise<void> | null = null;
  #step = 0;
  #rewardKlCoef: number;
  readonly #dynamicSampling: Required<DynamicSamplingOptions> | undefined;
  /** Prompts handed out so far by dynamic sampling (without it, step s uses prompts [s·B, (s+1)·B)). */
  #promptsDrawn = 0;

  constructor(options: TrainerOptions) {
    this.options = {
      promptsPerStep: 16, groupSize: 8, maxNewTokens: 64, temperature: 1, topP: 1, topK: 0, lr: 1e-5, weightDecay: 0,
      maxGradNorm: 1, microBatchRows: 64, trainProblems: 4096, seed: 0, ...options,
      prm: options.prm === undefined ? undefined : toPrm(options.prm),
    };
    if (!options.dataset && !options.task) throw ArgumentError.expected('options.dataset', 'samples (or a task)', options.dataset);
    if (!options.reward && !options.task) throw ArgumentError.expected('options.reward', 'a reward function (or a task)', options.reward);
    const { algorithm } = this.options;
    if ((algorithm.needs.ref || algorithm.loss.klCoef > 0) && !options.reference)
      throw new Error(`steprl: ${algorithm.name} needs a reference model (TrainerOptions.reference)`);
    if (algorithm.needs.prm && !options.prm) throw new Error(`steprl: ${algorithm.name} needs a process reward model (TrainerOptions.prm)`);
    if (algorithm.needs.values && !options.policy.values) throw new Error(`steprl: ${algorithm.name} needs a policy with a value head (values())`);
    this.optimizer = new AdamW(options.policy.parameters(), { lr: this.options.lr, weightDecay: this.options.weightDecay, maxGradNorm: this.options.maxGradNorm });
    this.promptFormat = promptFormatFor(options.tokenizer, options.promptFormat);
    this.verify = options.reward ? combineRewards(options.reward, { correctThreshold: options.correctThreshold }) : combineRewards(taskReward(options.task!));
    const { dataset } = options;
    if (dataset === undefined) this.#setPool(options.task!.problems('train', this.options.trainProblems, this.options.seed));
    else if (typeof dataset === 'string') this.#setPool(splitOf(readJsonl(dataset), 'train'));
    else if (Array.isArray(dataset)) this.#setPool(splitOf(samplesOf(dataset), 'train'));
    else {
      this.#loading = loadSamples(dataset, { limit: this.options.trainProblems }).then((s) => this.#setPool(splitOf(s, 'train')));
      // A bad stream rejects at ready()/trainStep(), not as an unhandled rejection before them.
      this.#loading.catch(() => undefined);
    }
    this.#rewardKlCoef = algorithm.rewardKl?.initial ?? 0;
    this.#dynamicSampling = options.dynamicSampling === undefined
      ? dynamicSamplingSettings(algorithm.dynamicSampling, 'options.algorithm.dynamicSampling')
      : dynamicSamplingSettings(options.dynamicSampling, 'options.dynamicSampling');
  }

  #setPool(samples: LoadedSample[]): void {
    if (samples.length === 0) throw ArgumentError.expected('options.dataset', 'at least one training sample', samples);
    this.#pool = samples;
    (this.options.prm as { register?(p: readonly LoadedSample[]): void } | undefined)?.register?.(samples);
  }

  /** Resolves once the training samples are loaded (an async iterable dataset is read here). */
  async ready(): Promise<void> {
    if (this.#loading) await this.#loading;
    this.#loading = null;
  }

  /** The training samples (after ready()). */
  get samples(): readonly LoadedSample[] {
    if (!this.#pool) throw new ArgumentError('dataset', 'the training samples are still loading; await trainer.ready() first');
    return this.#pool;
  }

  get step(): number {
    return this.#step;
  }

  /**
   * The problems of step `step` without dynamic sampling: a seeded permutation of the pool per
   * epoch. (Dynamic sampling reads the same stream further, so its steps may use more prompts.)
   */
  problemsFor(step: number): LoadedSample[] {
    return this.#problemsAt(step * this.options.promptsPerStep, this.options.promptsPerStep);
  }

  /** Prompts [first, first + count) of the stream: the pool in a seeded permutation per epoch. */
  #problemsAt(first: number, count: number): LoadedSample[] {
    const pool = this.samples, N = pool.length;
    const out: LoadedSample[] = [];
    for (let index = first; index < first + count; index++) out.push(pool[this.#permutation(Math.floor(index / N))[index % N]]);
    return out;
  }

  #permutations = new Map<number, number[]>();
  #permutation(epoch: number): number[] {
    let p = this.#permutations.get(epoch);
    if (!p) {
      p = new Random(this.options.seed * 7919 + epoch).shuffle(Array.from({ length: this.samples.length }, (_, i) => i));
      this.#permutations.clear();
      this.#permutations.set(epoch, p);
    }
    return p;
  }

  /**
   * One RL step; returns its metrics. The step runs in a scope (scope.ts): every tensor made during
   * it that the model or optimizer does not keep is freed when it ends, error or not.
   */
  async trainStep(): Promise<StepMetrics> {
    await this.ready();
    return scope(() => this.#trainStep());
  }

  async #trainStep(): Promise<StepMetrics> {
    const o = this.options, { algorithm } = o;
    // Each phase's wall seconds and the process's CPU seconds over the same stretch (user + system,
    // every thread: the native pool's included), so cores busy = cpu / wall says whether a slow
    // phase waited on idle cores or on a machine shared with other work.
    const seconds: Record<string, number> = {}, cpuSeconds: Record<string, number> = {};
    const timed = async <T>(phase: string, run: () => Promise<T> | T): Promise<T> => {
      const start = performance.now(), cpuStart = process.cpuUsage();
      const result = await run();
      const cpu = process.cpuUsage(cpuStart);
      seconds[phase] = (seconds[phase] ?? 0) + (performance.now() - start) / 1000;
      cpuSeconds[phase] = (cpuSeconds[phase] ?? 0) + (cpu.user + cpu.system) / 1e6;
      return result;
    };
    const stepSeed = (o.seed * 1000003 + this.#step * 7919) >>> 0;
    const env = { promptFormat: this.promptFormat, verify: this.verify, source: o.rolloutSource };
    // Round 0 samples with the step's seed; further dynamic-sampling rounds with seeds of their own.
    const rollouts = (problems: LoadedSample[], round: number) => collectRollouts(o.policy, o.tokenizer, env, problems, {
      groupSize: o.groupSize, rowsPerPass: o.microBatchRows,
      sampling: {
        maxNewTokens: o.maxNewTokens, temperature: o.temperature, topP: o.topP, topK: o.topK, stopTokens: o.tokenizer.stopIds ?? [o.tokenizer.eosId],
        seed: round === 0 ? stepSeed : (stepSeed + Math.imul(round, 0x9e3779b9)) >>> 0,
      },
    });
    let dynamic: DynamicSamplingStats | undefined;
    const batch: RolloutBatch = await timed('rollout', async () => {
      if (!this.#dynamicSampling) return rollouts(this.problemsFor(this.#step), 0);
      const draw = (count: number) => {
        const problems = this.#problemsAt(this.#promptsDrawn, count);
        this.#promptsDrawn += count;
        return problems;
      };
      const result = await collectDynamic(o.promptsPerStep, this.#dynamicSampling, o.tokenizer.padId, draw, rollouts);
      dynamic = result.stats;
      return result.batch;
    });
    // A phase's transient memory (the rollout's KV cache and workspaces, the reference pass's
    // activations) goes back to the system before the next phase, so the step's peak is one phase's.
    const endPhase = (...models: (PolicyModel | undefined)[]) => {
      for (const model of models) model?.releaseActivations?.();
      trimHostCache();
    };
    endPhase();
    if (algorithm.needs.steps) {
      const segmentation = (algorithm as { segmentation?: { maxBranches: number; minGap: number } }).segmentation ?? { maxBranches: 5, minGap: 10 };
      await timed('score', () => scoreSteps(batch, o.tokenizer, o.splitter ?? algorithm.needs.steps!, algorithm.needs.prm ? o.prm : undefined, segmentation));
    }
    // The per-token data stays on the policy's device from here to the update (batch.ts): the
    // reference log-probs and rollout values are attached as tensors there, the built-in advantage
    // estimators return tensors there, and the metrics are reduced there (one read of a few floats).
    const device = o.policy.device;
    const onDevice = (tensor: Tensor): Tensor => (tensor.device === device ? tensor : tensor.to(device));
    if (o.reference && (algorithm.needs.ref || algorithm.loss.klCoef > 0))
      attachTensor(batch, 'refLogprobs', await timed('reference', async () => {
        const out = onDevice(await residentLogprobs(o.reference!, batch, o.temperature, o.microBatchRows));
        endPhase(o.reference);
        return out;
      }));
    if (algorithm.needs.values) attachTensor(batch, 'oldValues', await timed('values', async () => {
      const out = await residentValues(o.policy, batch, o.microBatchRows);
      endPhase(o.policy);
      return out;
    }));
    const adv = await timed('advantages', () => algorithm.advantages(batch, { prm: o.prm, rewardKlCoef: this.#rewardKlCoef, device }));
    const advantages = attachedTensor(adv, 'advantages', device) ?? adv.advantages;
    const returns = attachedTensor(adv, 'returns', device) ?? adv.returns;
    const update = await timed('update', () => updatePolicy(o.policy, this.optimizer, algorithm.loss, { batch, advantages, returns }, {
      temperature: o.temperature, lr: o.lr, microBatchRows: o.microBatchRows, maxLength: o.maxNewTokens,
      random: new Random(stepSeed ^ 0x5bd1e995), critic: Boolean(algorithm.needs.values),
    }));
    endPhase(o.policy);
    const sums = device === 'cpu' ? undefined
      : deviceTokenSums(batch, advantages instanceof Tensor ? advantages : Tensor.from(advantages, [batch.R, batch.T], { device }), device);
    const metrics = stepMetrics(this.#step, batch, adv, update, seconds, this.#rewardKlCoef, o.lr, sums, cpuSeconds);
    if (dynamic) metrics.dynamicSampling = dynamic;
    this.#adaptRewardKl(batch, sums);
    this.#step++;
    return metrics;
  }

  /** PPO's adaptive KL controller: β ← β·(1 + clip(KL/target − 1, ±0.2)·R/horizon) (§1.8). */
  #adaptRewardKl(batch: RolloutBatch, sums?: TokenSums): void {
    const control = this.options.algorithm.rewardKl;
    if (!control?.target || !control.horizon) return;
    let sum = 0;
    if (sums) {
      if (sums.logRatio === undefined) return;
      sum = sums.logRatio;  // reduced on the device
    } else {
      if (!batch.refLogprobs) return;
      for (let i = 0; i < batch.mask.length; i++) if (batch.mask[i]) sum += batch.oldLogprobs[i] - batch.refLogprobs[i];
    }
    const observed = sum / batch.R;
    const error = Math.min(Math.max(observed / control.target - 1, -0.2), 0.2);
    this.#rewardKlCoef *= 1 + (error * batch.R) / control.horizon;
  }

  /** What resuming needs besides the policy weights (with dynamic sampling: how far the prompt stream was read). */
  state(): { step: number; rewardKlCoef: number; promptsDrawn?: number } {
    return { step: this.#step, rewardKlCoef: this.#rewardKlCoef, ...(this.#dynamicSampling ? { promptsDrawn: this.#promptsDrawn } : {}) };
  }

  restore(state: { step: number; rewardKlCoef: number; promptsDrawn?: number }): void {
    this.#step = state.step;
    this.#rewardKlCoef = state.rewardKlCoef;
    this.#promptsDrawn = state.promptsDrawn ?? state.step * this.options.promptsPerStep;
  }
}
