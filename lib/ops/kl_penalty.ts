// kl_penalty.ts: per-token KL estimators between the policy and a frozen reference and their
// derivative with respect to the policy log-probs (ALGORITHMS.md §1.3). With d = ref - logprob:
//   k1 = -d, k2 = d²/2, k3 = e^d - d - 1 (d clamped to ±20, value to ±10; gradient 0 where a clamp
//   acts), k3+ = value of k3 with the gradient of k2 (verl), abs = |d|.
import { binding } from '../binding';
import { Tensor } from '../tensor';
import { KL_ESTIMATOR_NAMES, type KlEstimatorName, type NativeKl } from '../native';
import { nativeOp } from '../native_call';
import { checkEnum, checkOptionsObject, checkShapeEquals, checkTensor, commonDevice } from '../validate';

export interface KlPenaltyOptions {
  /**
   * Which estimator of KL(π_θ‖π_ref), from Schulman's "Approximating KL divergence":
   * 'k1' (ℓ − ℓref, unbiased, can be negative), 'k2' (½(ℓ − ℓref)², its gradient is the "right"
   * KL gradient), 'k3' (e^d − d − 1, unbiased and ≥ 0: GRPO's `low_var_kl`), 'k3+' (k3's value,
   * k2's gradient) or 'abs' (|ℓ − ℓref|). Default 'k3'.
   */
  estimator?: KlEstimatorName;
}

export interface KlPenaltyResult {
  /** float32, the shape of logprobs: the estimate per token. */
  kl: Tensor;
  /** float32, the shape of logprobs: d(kl)/d(logprobs) per token (the reference is constant). */
  dkl: Tensor;
}

function prepare(logprobs: unknown, refLogprobs: unknown, options: KlPenaltyOptions) {
  checkOptionsObject('options', options, ['estimator']);
  const l = checkTensor('logprobs', logprobs, ['float32']);
  const ref = checkTensor('refLogprobs', refLogprobs, ['float32']);
  checkShapeEquals('refLogprobs', ref, l.shape);
  commonDevice({ logprobs: l, refLogprobs: ref });
  const estimator = checkEnum('options.estimator', options?.estimator, KL_ESTIMATOR_NAMES, 'k3');
  const args = [l._storage('logprobs'), ref._storage('refLogprobs'), l.numel, estimator] as const;
  return { args, shape: l.shape };
}

const op = nativeOp(
  prepare,
  ({ args }, async) => binding().klPenalty(...args, async),
  (out: NativeKl, { shape }): KlPenaltyResult => ({ kl: Tensor._wrap(out.kl, shape, 'float32'), dkl: Tensor._wrap(out.dkl, shape, 'float32') }),
);

/** The KL estimate per token and its derivative with respect to logprobs (any shape). */
export function klPenalty(logprobs: Tensor, refLogprobs: Tensor, options: KlPenaltyOptions = {}): KlPenaltyResult {
  return op.sync(logprobs, refLogprobs, options);
}

/** klPenalty off the main thread. */
export function klPenaltyAsync(logprobs: Tensor, refLogprobs: Tensor, options: KlPenaltyOptions = {}): Promise<KlPenaltyResult> {
  return op.async(logprobs, refLogprobs, options);
}
