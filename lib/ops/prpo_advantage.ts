// prpo_advantage.ts: PRPO token advantages (ALGORITHMS.md §5.4): PRM token scores normalized by a
// prior and shifted by the row's outcome advantage,
//   β_i = r_i − mean_{j ∈ g} r_j (no std; G = 1 → 0),  z = (s − μ0)/σ0,  A = (z + β_i)·m,
// with μ0, σ0 fixed (srpo2: the triangular law on [0, 1]) or pooled over the group's valid tokens
// (srpo4: mean, unbiased std + eps; float64). compat: the last valid token keeps s + β (and stays
// out of the pool), as the reference code does.
import { binding } from '../binding';
import { PRPO_PRIOR_NAMES, type PrpoPriorName } from '../native';
import { Tensor } from '../tensor';
import { callNative } from '../native_call';
import { checkBoolean, checkEnum, checkFinite, checkMask, checkMaskOnHost, checkNumber, checkOptionsObject, checkRowsTokens, checkTensorsObject, checkVector, commonDevice } from '../validate';

export interface PrpoAdvantagesInputs {
  /** float32 [R,T]: s, the PRM score of the segment each token belongs to (finite on valid tokens). */
  tokenScores: Tensor;
  /** float32 [R]: r, each row's outcome reward (finite). */
  rewards: Tensor;
  /** int32 [R]: group of each row (any int32 keys; rows of a group need not be adjacent). */
  groupIds: Tensor;
  /** float32 or uint8 [R,T], 0 or 1: 1 on generated tokens (right padding). */
  mask: Tensor;
}

export interface PrpoAdvantagesOptions {
  /** 'fixed' (μ0, σ0 as given; srpo2, default) or 'empirical' (the group's pooled statistics; srpo4). */
  prior?: PrpoPriorName;
  /** μ0 of the fixed prior (finite). Default 0.5. */
  mu0?: number;
  /** σ0 > 0 of the fixed prior. Default sqrt(1/24) ≈ 0.204124. */
  sigma0?: number;
  /** Added to the empirical σ (≥ 0). Default 1e-6. */
  eps?: number;
  /** Reproduce the reference: the last valid token keeps s + β un-normalized. Default false. */
  compat?: boolean;
}

/** PRPO advantages, float32 [R,T], 0 where the mask is 0. */
export function prpoAdvantages(inputs: PrpoAdvantagesInputs, options: PrpoAdvantagesOptions = {}): Tensor {
  checkTensorsObject('inputs', inputs, ['tokenScores', 'rewards', 'groupIds', 'mask']);
  checkOptionsObject('options', options, ['prior', 'mu0', 'sigma0', 'eps', 'compat']);
  const [R, T] = checkRowsTokens('tokenScores', inputs.tokenScores);
  const scores = inputs.tokenScores;
  const rewards = checkVector('rewards', inputs.rewards, 'float32', R, 'R, one per row');
  const groupIds = checkVector('groupIds', inputs.groupIds, 'int32', R, 'R, one per row');
  const mask = checkMask(inputs.mask, [R, T]);
  const o = options ?? {};
  const prior = checkEnum('options.prior', o.prior, PRPO_PRIOR_NAMES, 'fixed');
  const mu0 = checkNumber('options.mu0', o.mu0, 0.5);
  const sigma0 = checkNumber('options.sigma0', o.sigma0, Math.sqrt(1 / 24), { above: 0 });
  const eps = checkNumber('options.eps', o.eps, 1e-6, { min: 0 });
  const compat = checkBoolean('options.compat', o.compat, false);
  commonDevice({ tokenScores: scores, rewards, groupIds, mask });
  checkMaskOnHost(mask);
  checkFinite('rewards', rewards);
  checkFinite('tokenScores', scores, mask);
  const out = callNative(() => binding().prpoAdvantages(
    scores._storage('tokenScores'), rewards._storage('rewards'), groupIds._storage('groupIds'), mask._storage('mask'),
    R, T, prior, mu0, sigma0, eps, compat));
  return Tensor._wrap(out, [R, T], 'float32');
}
