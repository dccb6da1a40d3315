// pspo.ts: PSPO-WRS (arXiv 2411.11681; ALGORITHMS.md §3): a PRM scores each step, the scores are
// accumulated nonlinearly (geometric mean) and shaped by the step count (adjusted Weibull, or the
// released code's `pspo_ff`, or `linear`), and that scalar is the sequence reward. Two modes (§3.4):
// with a critic (default, the paper's PPO) or critic-free (the reward group-normalized as in GRPO).
import * as ops from '../ops/index';
import type { WeibullRewardOptions } from '../ops/weibull_reward';
import { Tensor } from '../tensor';
import { numberedListSplitter, type StepSplitter } from '../reward/splitters';
import { DEFAULT_LOSS, deviceAdvantages, lossModeClips, type Algorithm, type LossSettings } from './algorithm';
import { broadcastRowsOn } from './device_math';
import { broadcastRows, ragged, type RolloutBatch } from './batch';
import { outcomeAdvantages } from './grpo';
import { ppoWithScore, type PPOOptions } from './ppo';
import { correlation, meanGroupStd, signalStats, type SignalStats } from './signal';

/** PPO's options, weibullReward's (its λ named lambdaWeibull: PPO's lambda is GAE's), a critic switch, a step splitter. */
export interface PSPOOptions extends PPOOptions, Omit<WeibullRewardOptions, 'lambda'> {
  critic?: boolean;
  splitter?: StepSplitter;
  lambdaWeibull?: number;
}

/** R_i = s̄_i · h(K_i) from the batch's PRM step scores. */
export function shapedRewards(batch: RolloutBatch, o: PSPOOptions): Float32Array {
  const { values, offsets } = ragged(batch.stepScores!);
  const rewards = ops.weibullReward(Tensor.from(values, [values.length]), Tensor.from(offsets, [offsets.length]), {
    shaping: o.shaping ?? 'weibull', aggregate: o.aggregate ?? 'geomean', k: o.k, lambda: o.lambdaWeibull, peak: o.peak, minSteps: o.minSteps,
  });
  const out = rewards.toArray() as Float32Array;
  rewards.dispose();
  return out;
}

/**
 * PSPO's signal: spread of the shaped reward within groups against that of the verifier's reward;
 * detail: the same spread of the unshaped s̄ (the linear baseline), and R's correlation with the outcome.
 */
export function pspoSignal(batch: RolloutBatch, shaped: Float32Array, o: PSPOOptions): SignalStats {
  const linear = shapedRewards(batch, { ...o, shaping: 'linear' });
  return signalStats(meanGroupStd(shaped, batch.groupIds), meanGroupStd(batch.rewards, batch.groupIds), {
    linearSpread: meanGroupStd(linear, batch.groupIds), outcomeCorrelation: correlation(shaped, batch.rewards),
  });
}

export function pspo(options: PSPOOptions = {}): Algorithm {
  const needs = { steps: options.splitter ?? numberedListSplitter, prm: true };
  if (options.critic ?? true)
    return ppoWithScore('pspo', options, (batch) => shapedRewards(batch, options), needs, (batch, scores) => pspoSignal(batch, scores, options));
  const loss: LossSettings = { ...DEFAULT_LOSS, klCoef: 0.001, ...lossModeClips(options), ...options };
  return {
    name: 'pspo',
    needs: { ...needs, ref: loss.klCoef > 0 },
    loss,
    advantages(batch, context) {
      const scores = shapedRewards(batch, options), device = context?.device ?? 'cpu';
      const perRow = outcomeAdvantages(scores, batch.groupIds), signal = pspoSignal(batch, scores, options);
      if (device !== 'cpu') return deviceAdvantages({ advantages: broadcastRowsOn(perRow, batch.lengths, batch.T, device) }, { scores, signal });
      return { advantages: broadcastRows(perRow, batch.mask, batch.T), scores, signal };
    },
  };
}
