// weibull_reward.ts: PSPO* sequence rewards from per-step PRM scores (ALGORITHMS.md §3.2, §2):
// aggregate each row's step scores (geometric mean by default), then shape by the step count K,
//   weibull: R = s̄·h(K), h(n) = C·(k/λ)·(n/λ)^(k−1)·exp(−(n/λ)^k)   (peak 1 at n ≈ 3.85 by default)
//   pspo_ff: R = s̄·ff(s̄, K) (the released PSPO code),  linear: R = s̄;   K < minSteps gives 0.
import { binding } from '../binding';
import { REWARD_SHAPING_NAMES, STEP_AGGREGATE_NAMES, type RewardShapingName, type StepAggregateName } from '../native';
import { ArgumentError, describe } from '../errors';
import { Tensor, typedArrayKind } from '../tensor';
import { callNative } from '../native_call';
import { checkEnum, checkNumber, checkOffsets, checkOptionsObject, checkRank, checkStepOffsets, checkTensor, commonDevice } from '../validate';

export interface WeibullRewardOptions {
  /** 'weibull' (the paper's WRS, default), 'pspo_ff' (the released code's ff) or 'linear' (R = s̄). */
  shaping?: RewardShapingName;
  /**
   * How step scores p_1..p_K become s̄: 'geomean' exp(mean log p) (PSPO, default), 'product' Π p
   * (Lightman et al.), 'min', or 'last' (p_K). geomean and product floor p at 1e-12.
   */
  aggregate?: StepAggregateName;
  /** Weibull shape k > 0. Default 1.5. */
  k?: number;
  /** Weibull scale λ > 0 (in steps). Default 8. */
  lambda?: number;
  /** C > 0, rescales h so that its peak is 1 for the default k and λ. Default 10.735. */
  peak?: number;
  /** Rows with fewer steps get reward 0 (PSPO: a single step scores 0). An integer ≥ 0. Default 2. */
  minSteps?: number;
}

function checkScores(scores: Float32Array): void {
  for (let i = 0; i < scores.length; i++)
    if (!(scores[i] >= 0 && scores[i] <= 1))
      throw new ArgumentError('stepScores', `Expected a number in [0, 1] for every element of stepScores but received ${describe(scores[i])} at index ${i}`);
}

/**
 * One reward per row (float32 [R]) from step scores (float32 [S], each in [0, 1]) laid out
 * row after row: row i owns stepScores[stepOffsets[i] .. stepOffsets[i+1]) (int32 [R+1], from 0 to S).
 */
export function weibullReward(stepScores: Tensor, stepOffsets: Tensor, options: WeibullRewardOptions = {}): Tensor {
  checkOptionsObject('options', options, ['shaping', 'aggregate', 'k', 'lambda', 'peak', 'minSteps']);
  const scores = checkTensor('stepScores', stepScores, ['float32']);
  checkRank('stepScores', scores, 1);
  const { offsets, R } = checkStepOffsets(stepOffsets);
  commonDevice({ stepScores: scores, stepOffsets: offsets });
  const o = options ?? {};
  const shaping = checkEnum('options.shaping', o.shaping, REWARD_SHAPING_NAMES, 'weibull');
  const aggregate = checkEnum('options.aggregate', o.aggregate, STEP_AGGREGATE_NAMES, 'geomean');
  const k = checkNumber('options.k', o.k, 1.5, { above: 0 });
  const lambda = checkNumber('options.lambda', o.lambda, 8, { above: 0 });
  const peak = checkNumber('options.peak', o.peak, 10.735, { above: 0 });
  const minSteps = checkNumber('options.minSteps', o.minSteps, 2, { integer: true, min: 0 });
  const S = scores.numel;
  checkOffsets(offsets, S, 'step scores');
  if (typedArrayKind(scores._storage('stepScores')) !== null) checkScores(scores._storage('stepScores') as Float32Array);
  const out = callNative(() =>
    binding().weibullReward(scores._storage('stepScores'), offsets._storage('stepOffsets'), S, R, shaping, aggregate, k, lambda, peak, minSteps));
  return Tensor._wrap(out, [R], 'float32');
}
