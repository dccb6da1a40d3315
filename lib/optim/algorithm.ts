// algorithm.ts: what an RL algorithm is to the pipeline: an advantage estimator plus the loss
// settings it fixes or defaults. The pipeline (base.ts) does everything else the same way for all.
import type { StepSplitter } from '../reward/splitters';
import type { ProcessRewardModel } from '../reward/prm';
import type { KlEstimatorName, LossAggregationName, PolicyLossModeName } from '../native';
import { MODE_CLIP_DEFAULTS } from '../ops/policy_loss';
import { attachTensor, broadcastRows, type RolloutBatch } from './batch';
import { broadcastRowsOn } from './device_math';
import type { Device, Tensor } from '../tensor';
import type { DynamicSamplingOptions } from './dynamic_sampling';
import type { SignalStats } from './signal';

export interface LossSettings {
  /**
   * The policy-loss surrogate (policyLoss's `mode`): 'clip' (PPO/GRPO), 'gspo', 'gspo-token' or
   * 'cispo' (docs/ALGORITHMS-baselines.md §B3-§B5). Default 'clip'.
   */
  lossMode?: PolicyLossModeName;
  clipLow: number;
  clipHigh: number;
  dualClip?: number;
  /** β of the KL term in the loss (§1.7); 0 = none. */
  klCoef: number;
  klEstimator: KlEstimatorName;
  aggregation: LossAggregationName;
  /** Passes over each rollout batch (PPO: 4; on-policy GRPO/PRL/PRPO: 1). */
  epochs: number;
  /** Optimizer steps per pass (the batch is split into this many mini-batches). */
  miniBatches: number;
  /** Weight of the clipped value loss (critic algorithms). */
  valueCoef: number;
  /** Value clip range around the rollout values. */
  valueClip: number;
}

export interface AdvantageContext {
  prm?: ProcessRewardModel;
  /** Current β of a KL penalty folded into the reward (PPO's adaptive controller). */
  rewardKlCoef: number;
  /** Where the advantage ops run: the policy's device in the Trainer. Default 'cpu'. */
  device?: Device;
}

export interface Advantages {
  /**
   * [R * T] per-token advantages, 0 on padding (constants in the loss). The built-in estimators
   * running on a device other than the cpu keep them there (deviceAdvantages): then this field is a
   * lazy accessor that reads them to the host on first use, and the Trainer never reads it.
   */
  advantages: Float32Array;
  /** [R * T] value targets (critic algorithms); lazy like `advantages` when on a device. */
  returns?: Float32Array;
  /** [R] the scalar each row was scored with (for metrics; e.g. a shaped reward). */
  scores?: Float32Array;
  /** Size of the method's own (process) term next to the outcome advantage (signal.ts). */
  signal?: SignalStats;
}

export interface Algorithm {
  readonly name: string;
  /** What the batch must carry before advantages() runs. */
  readonly needs: {
    ref?: boolean;
    values?: boolean;
    /** How to split responses into steps; with a PRM, steps are scored. 'entropy' is PRPO's segmentation. */
    steps?: StepSplitter | 'entropy';
    prm?: boolean;
  };
  readonly loss: LossSettings;
  /** The KL coefficient a critic algorithm puts into the per-token reward, and how it adapts. */
  readonly rewardKl?: { initial: number; target?: number; horizon?: number };
  /** DAPO's dynamic sampling (dynamic_sampling.ts), run by the Trainer when set; absent: off. */
  readonly dynamicSampling?: DynamicSamplingOptions;
  advantages(batch: RolloutBatch, context: AdvantageContext): Promise<Advantages> | Advantages;
}

export const DEFAULT_LOSS: LossSettings = {
  clipLow: 0.2,
  clipHigh: 0.2,
  klCoef: 0,
  klEstimator: 'k3',
  aggregation: 'token-mean',
  epochs: 1,
  miniBatches: 1,
  valueCoef: 0.1,
  valueClip: 0.2,
};

/**
 * The clip range a loss mode defaults to where the caller gave none (GSPO's 3e-4/4e-4, CISPO's
 * no-lower-clip/0.28), to spread between an algorithm's preset and its options.
 */
export function lossModeClips(options: Partial<LossSettings>): Partial<LossSettings> {
  const mode = options.lossMode ?? 'clip';
  if (mode === 'clip') return {};
  const [clipLow, clipHigh] = MODE_CLIP_DEFAULTS[mode];
  return { clipLow: options.clipLow ?? clipLow, clipHigh: options.clipHigh ?? clipHigh };
}

/**
 * An outcome-only algorithm (RLOO, CISPO): one advantage per row from the rewards and groups,
 * broadcast to every response token, the reward as the row's score; the loss is `options` over the
 * loss mode's clip defaults over DEFAULT_LOSS, and a KL term runs the reference.
 */
export function rowAdvantageAlgorithm(
  name: string, options: Partial<LossSettings>, perRow: (rewards: Float32Array, groupIds: Int32Array) => Float32Array,
): Algorithm {
  const loss: LossSettings = { ...DEFAULT_LOSS, ...lossModeClips(options), ...options };
  return {
    name,
    needs: { ref: loss.klCoef > 0 },
    loss,
    advantages(batch: RolloutBatch, context) {
      const rows = perRow(batch.rewards, batch.groupIds), scores = Float32Array.from(batch.rewards), device = context?.device ?? 'cpu';
      if (device !== 'cpu') return deviceAdvantages({ advantages: broadcastRowsOn(rows, batch.lengths, batch.T, device) }, { scores });
      return { advantages: broadcastRows(rows, batch.mask, batch.T), scores };
    },
  };
}

/**
 * Advantages whose per-token arrays are tensors (on the policy's device): `advantages` and
 * `returns` become lazy host accessors of them (batch.ts attachTensor), `rest` is copied in.
 */
export function deviceAdvantages(tensors: { advantages: Tensor; returns?: Tensor }, rest: Omit<Advantages, 'advantages' | 'returns'> = {}): Advantages {
  const out: Advantages = { advantages: new Float32Array(0), ...rest };
  attachTensor(out, 'advantages', tensors.advantages);
  if (tensors.returns) attachTensor(out, 'returns', tensors.returns);
  return out;
}
