// policy_loss.ts: the PPO/GRPO clipped-surrogate loss with an optional KL term, aggregated into a
// scalar, and its gradient with respect to the policy log-probs (ALGORITHMS.md §1.1-§1.4, §1.7):
//   ρ = exp(clamp(ℓ − ℓold, ±20)),  ψ = max(−Aρ, −A·clip(ρ, 1−εlow, 1+εhigh)) (dual clip: min(ψ, −Ac) for A < 0),
//   loss = lossScale · Σ w·(ψ + β·κ),  dlogprobs = lossScale · w·(gψ + β·∂κ/∂ℓ),  w = mask · c_row.
// options.mode swaps the surrogate (docs/ALGORITHMS-baselines.md §B3, §B4): 'gspo' and 'gspo-token'
// clip the sequence ratio s_i = exp(masked mean of ℓ − ℓold) (ranges 3e-4/4e-4 by default), 'cispo'
// is −sg(clip(ρ, 1−εlow, 1+εhigh))·A·ℓ (no lower clip and εhigh 0.28 by default).
import { binding } from '../binding';
import { ArgumentError, describe } from '../errors';
import { Tensor, typedArrayKind } from '../tensor';
import {
  KL_ESTIMATOR_NAMES, LOSS_AGGREGATION_NAMES, POLICY_LOSS_MODE_NAMES, type KlEstimatorName, type LossAggregationName,
  type NativePolicyLoss, type NativeStorage, type PolicyLossModeName,
} from '../native';
import { nativeOp } from '../native_call';
import { checkEnum, checkMaskOnHost, checkNumber, checkOptionsObject, checkRank, checkShapeEquals, checkTensor, checkTensorsObject, commonDevice, optionalTensor } from '../validate';

/** Default (clipLow, clipHigh) of each mode: PPO's 0.2; GSPO's paper 3e-4/4e-4; CISPO no lower clip, 0.28 above. */
export const MODE_CLIP_DEFAULTS: Readonly<Record<PolicyLossModeName, readonly [number, number]>> = {
  clip: [0.2, 0.2], gspo: [3e-4, 4e-4], 'gspo-token': [3e-4, 4e-4], cispo: [1, 0.28],
};

export interface PolicyLossInputs {
  /** float32 [R,T]: ℓ, log-probs of the sampled tokens under the policy being trained. */
  logprobs: Tensor;
  /** float32 [R,T]: ℓold, under the policy that produced the rollouts (constant). */
  oldLogprobs: Tensor;
  /** float32 [R,T]: ℓref under the frozen reference; needed when klCoef ≠ 0, gives `kl` when present. */
  refLogprobs?: Tensor;
  /** float32 [R,T]: A per token (constant); a row's outcome advantage broadcast over its tokens. */
  advantages: Tensor;
  /** float32 or uint8 [R,T], values 0 or 1: 1 on generated tokens. Nothing outside it counts. */
  mask: Tensor;
}

export interface PolicyLossOptions {
  /**
   * The surrogate: 'clip' (PPO/GRPO, §1.2), 'gspo' (sequence ratio s_i = exp(mean_t m(ℓ − ℓold)),
   * clipped per sequence, gradient through s_i), 'gspo-token' (the same value, each token's
   * gradient −A[i,t]·s_i unless clipped), 'cispo' (ψ = −sg(clip(ρ))·A·ℓ: every token keeps a
   * gradient). Default 'clip'.
   */
  mode?: PolicyLossModeName;
  /** εlow: ratios below 1 − clipLow are clipped for A < 0. In [0, 1]. Default per mode: 0.2, gspo 3e-4, cispo 1 (no lower clip). */
  clipLow?: number;
  /** εhigh: ratios above 1 + clipHigh are clipped for A > 0 (DAPO's clip-higher: 0.28). Default per mode: 0.2, gspo 4e-4, cispo 0.28. */
  clipHigh?: number;
  /** Dual clip c > 1 (verl uses 3): for A < 0 the loss is capped at −A·c ('clip' mode only). Default: none. */
  dualClip?: number;
  /** β ≥ 0, weight of the KL term; refLogprobs is required when it is not 0. Default 0. */
  klCoef?: number;
  /** Estimator of the KL term, as klPenalty's. Default 'k3'. */
  klEstimator?: KlEstimatorName;
  /**
   * How per-token terms become a scalar (§1.4): 'token-mean' (w = m / Σm, verl's default),
   * 'seq-mean-token-mean' (w = m / (N·L_i), DeepSeekMath; rows without tokens add nothing),
   * 'seq-mean-token-sum' (w = m / N) or 'seq-mean-token-sum-norm' (w = m / (N·maxLength), Dr. GRPO).
   * Default 'token-mean'.
   */
  aggregation?: LossAggregationName;
  /** T_max of 'seq-mean-token-sum-norm', the generation budget (an integer ≥ 1). Default T. */
  maxLength?: number;
  /**
   * Σm of 'token-mean' (an integer ≥ 1). Default: Σm of this call's mask.
   *
   * tokenCount, rowCount and lossScale decide what a micro-batch's loss and gradient are a part
   * of. verl-compat (per-micro-batch denominators, as verl computes them): pass neither count and
   * lossScale = 1/gradAccum. Exact global aggregation across the micro-batches of a mini-batch:
   * pass the mini-batch totals (tokenCount = its Σm, rowCount = its N) and lossScale = 1; the
   * summed gradients then equal those of the whole mini-batch in one call.
   */
  tokenCount?: number;
  /** N of the 'seq-mean-*' aggregations (an integer ≥ 1); see tokenCount. Default R. */
  rowCount?: number;
  /** Multiplies loss, pgLoss, klLoss and dlogprobs (a finite number ≥ 0); see tokenCount. Default 1. */
  lossScale?: number;
}

export interface PolicyLossResult {
  /** pgLoss + klLoss. */
  loss: number;
  /** float32 [R,T]: d(loss)/d(logprobs); exactly 0 where the mask is 0. */
  dlogprobs: Tensor;
  /** Fraction of masked tokens with A ≠ 0 whose gradient a clip (or the dual clip, or the ratio clamp) zeroed; cispo: whose weight was clipped. */
  clipFraction: number;
  /** Masked mean of κ over this call's tokens (0 without refLogprobs). */
  kl: number;
  /** Masked mean of ℓold − ℓ over this call's tokens. */
  approxKl: number;
  /** The clipped-surrogate part of loss. */
  pgLoss: number;
  /** The KL part of loss, β·Σ w·κ. */
  klLoss: number;
}

const INPUT_NAMES = ['logprobs', 'oldLogprobs', 'refLogprobs', 'advantages', 'mask'];
const OPTION_NAMES = ['mode', 'clipLow', 'clipHigh', 'dualClip', 'klCoef', 'klEstimator', 'aggregation', 'maxLength', 'tokenCount', 'rowCount', 'lossScale'];

/**
 * Validates policyLoss's options (defaults filled in) for [R,T] inputs; `ref` is the checked
 * refLogprobs (the raw value names what was received). Shared with ops.linearPolicyLoss.
 */
export function checkPolicyLossOptions(o: PolicyLossOptions, R: number, T: number, ref: Tensor | undefined, refRaw: unknown) {
  const mode = checkEnum('options.mode', o.mode, POLICY_LOSS_MODE_NAMES, 'clip');
  const clipLow = checkNumber('options.clipLow', o.clipLow, MODE_CLIP_DEFAULTS[mode][0], { min: 0, max: 1 });
  const clipHigh = checkNumber('options.clipHigh', o.clipHigh, MODE_CLIP_DEFAULTS[mode][1], { min: 0 });
  const dualClip = o.dualClip === undefined ? null : checkNumber('options.dualClip', o.dualClip, 3, { above: 1 });
  if (dualClip !== null && mode !== 'clip')
    throw new ArgumentError('options.dualClip', `Expected no options.dualClip with options.mode '${mode}' (it caps the 'clip' surrogate only) but received ${describe(dualClip)}`);
  const klCoef = checkNumber('options.klCoef', o.klCoef, 0, { min: 0 });
  const klEstimator = checkEnum('options.klEstimator', o.klEstimator, KL_ESTIMATOR_NAMES, 'k3');
  const aggregation = checkEnum('options.aggregation', o.aggregation, LOSS_AGGREGATION_NAMES, 'token-mean');
  const count = (name: string, value: unknown) =>
    value === undefined ? null : checkNumber(`options.${name}`, value, 1, { integer: true, min: 1 });
  const maxLength = count('maxLength', o.maxLength);
  const tokenCount = count('tokenCount', o.tokenCount);
  const rowCount = count('rowCount', o.rowCount);
  const lossScale = checkNumber('options.lossScale', o.lossScale, 1, { min: 0 });
  if (klCoef !== 0 && !ref)
    throw new ArgumentError('refLogprobs',
      `Expected a float32 Tensor [${R}, ${T}] for refLogprobs when options.klCoef is ${klCoef} but received ${describe(refRaw)}`);
  return { mode, clipLow, clipHigh, dualClip, klCoef, klEstimator, aggregation, tokenCount, rowCount, maxLength, lossScale };
}

function prepare(inputs: PolicyLossInputs, options: PolicyLossOptions) {
  checkTensorsObject('inputs', inputs, INPUT_NAMES, '{ logprobs, oldLogprobs, refLogprobs?, advantages, mask }');
  checkOptionsObject('options', options, OPTION_NAMES);
  const o = options ?? {};
  const logprobs = checkTensor('logprobs', inputs.logprobs, ['float32']);
  checkRank('logprobs', logprobs, 2);
  const [R, T] = logprobs.shape;
  const old = checkTensor('oldLogprobs', inputs.oldLogprobs, ['float32']);
  const ref = optionalTensor('refLogprobs', inputs.refLogprobs, ['float32']);
  const advantages = checkTensor('advantages', inputs.advantages, ['float32']);
  const mask = checkTensor('mask', inputs.mask, ['float32', 'uint8']);
  for (const [name, t] of [['oldLogprobs', old], ['refLogprobs', ref], ['advantages', advantages], ['mask', mask]] as const)
    if (t) checkShapeEquals(name, t, logprobs.shape);
  commonDevice({ logprobs, oldLogprobs: old, refLogprobs: ref, advantages, mask });
  checkMaskOnHost(mask);

  const { mode, clipLow, clipHigh, dualClip, klCoef, klEstimator, aggregation, tokenCount, rowCount, maxLength, lossScale } =
    checkPolicyLossOptions(o, R, T, ref, inputs.refLogprobs);
  const args = [
    logprobs._storage('logprobs'), old._storage('oldLogprobs'), ref?._storage('refLogprobs') ?? null,
    advantages._storage('advantages'), mask._storage('mask') as NativeStorage, R, T, clipLow, clipHigh, dualClip,
    klCoef, klEstimator, aggregation, tokenCount, rowCount, maxLength, lossScale, mode,
  ] as const;
  return { args, shape: logprobs.shape };
}

const op = nativeOp(
  prepare,
  ({ args }, async) => binding().policyLoss(...args, async),
  (out: NativePolicyLoss, { shape }): PolicyLossResult => ({ ...out, dlogprobs: Tensor._wrap(out.dlogprobs, shape, 'float32') }),
);

/**
 * The clipped-surrogate policy loss (+ β·KL), its gradient with respect to logprobs, and the
 * usual metrics. Every input is [R,T]; advantages, old and reference log-probs are constants.
 */
export function policyLoss(inputs: PolicyLossInputs, options: PolicyLossOptions = {}): PolicyLossResult {
  return op.sync(inputs, options);
}

/** policyLoss off the main thread. */
export function policyLossAsync(inputs: PolicyLossInputs, options: PolicyLossOptions = {}): Promise<PolicyLossResult> {
  return op.async(inputs, options);
}
