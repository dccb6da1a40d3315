// reinforce_advantage.ts: REINFORCE++ and REINFORCE++-baseline advantages (Hu et al., arXiv
// 2501.03262; OpenRLHF's "reinforce" / "reinforce_baseline"; docs/ALGORITHMS-baselines.md §B2).
// No critic: the outcome reward (minus its group mean with groupIds) lands on each row's last
// token, the k1 KL −β·(ℓold − ℓref) on every token, returns are discounted suffix sums, and the
// advantages are the returns normalized over every valid token of the batch:
//   A = (G − mean)/sqrt(max(var, 1e-8)), population variance (OpenRLHF), 0 on padding.
import { binding } from '../binding';
import { ArgumentError, describe } from '../errors';
import { Tensor } from '../tensor';
import { callNative } from '../native_call';
import { checkBoolean, checkFinite, checkMaskOnHost, checkNumber, checkOptionsObject, checkRank, checkShapeEquals, checkTensor, checkTensorsObject, checkVector, commonDevice, optionalTensor } from '../validate';

export interface ReinforceAdvantageInputs {
  /** float32 [R]: the outcome reward of each row. */
  rewards: Tensor;
  /** float32 or uint8 [R,T], 0 or 1: 1 on generated tokens (right padding). */
  mask: Tensor;
  /** int32 [R]: group ids; given, each reward is centred on its group's mean first (REINFORCE++-baseline). */
  groupIds?: Tensor;
  /** float32 [R,T]: ℓold, needed when klCoef ≠ 0. */
  oldLogprobs?: Tensor;
  /** float32 [R,T]: ℓref, needed when klCoef ≠ 0. */
  refLogprobs?: Tensor;
}

export interface ReinforceAdvantageOptions {
  /** β ≥ 0 of the k1 KL folded into the per-token reward. Default 0. */
  klCoef?: number;
  /** γ ≥ 0, the discount of the returns. Default 1. */
  gamma?: number;
  /** Normalize the returns over the batch's valid tokens. Default true. */
  normalize?: boolean;
}

export interface ReinforceAdvantageResult {
  /** float32 [R,T]: the normalized returns (the returns when options.normalize is false), 0 on padding. */
  advantages: Tensor;
  /** float32 [R,T]: the discounted returns G, 0 on padding. */
  returns: Tensor;
}

export function reinforceAdvantages(inputs: ReinforceAdvantageInputs, options: ReinforceAdvantageOptions = {}): ReinforceAdvantageResult {
  checkTensorsObject('inputs', inputs, ['rewards', 'mask', 'groupIds', 'oldLogprobs', 'refLogprobs']);
  checkOptionsObject('options', options, ['klCoef', 'gamma', 'normalize']);
  const mask = checkTensor('mask', inputs.mask, ['float32', 'uint8']);
  checkRank('mask', mask, 2);
  const [R, T] = mask.shape;
  const rewards = checkVector('rewards', inputs.rewards, 'float32', R, 'one reward per row of mask');
  const groupIds = inputs.groupIds === undefined ? undefined : checkVector('groupIds', inputs.groupIds, 'int32', R, 'one id per row of mask');
  const old = optionalTensor('oldLogprobs', inputs.oldLogprobs, ['float32']);
  const ref = optionalTensor('refLogprobs', inputs.refLogprobs, ['float32']);
  if (old) checkShapeEquals('oldLogprobs', old, [R, T]);
  if (ref) checkShapeEquals('refLogprobs', ref, [R, T]);
  const o = options ?? {};
  const klCoef = checkNumber('options.klCoef', o.klCoef, 0, { min: 0 });
  const gamma = checkNumber('options.gamma', o.gamma, 1, { min: 0 });
  const normalize = checkBoolean('options.normalize', o.normalize, true);
  if (klCoef !== 0)
    for (const [name, t, given] of [['oldLogprobs', old, inputs.oldLogprobs], ['refLogprobs', ref, inputs.refLogprobs]] as const)
      if (!t) throw new ArgumentError(name, `Expected a float32 Tensor [${R}, ${T}] for ${name} when options.klCoef is ${klCoef} but received ${describe(given)}`);
  commonDevice({ rewards, mask, groupIds, oldLogprobs: old, refLogprobs: ref });
  checkMaskOnHost(mask);
  checkFinite('rewards', rewards);
  if (klCoef !== 0) {
    checkFinite('oldLogprobs', old!, mask);
    checkFinite('refLogprobs', ref!, mask);
  }
  const out = callNative(() => binding().reinforceAdvantages(rewards._storage('rewards'), groupIds?._storage('groupIds') ?? null,
    old?._storage('oldLogprobs') ?? null, ref?._storage('refLogprobs') ?? null, mask._storage('mask'), R, T, klCoef, gamma, normalize));
  return { advantages: Tensor._wrap(out.advantages, [R, T], 'float32'), returns: Tensor._wrap(out.returns, [R, T], 'float32') };
}
