// linear_policy_loss.ts: the clipped policy loss (ops.policyLoss) straight from hidden states and the
// output projection, in one pass over the vocabulary (bench/rl_step_profile.md, "One-pass loss"):
//   z = h · Wᵀ,  ℓ = z[target]/tau − logsumexp(z/tau),  loss = policyLoss(ℓ, ...),
//   dhidden = dz · W,  dweight += dzᵀ · h,  dz = ∂loss/∂z.
// linearTokenLogprobs → policyLoss → linearTokenLogprobsBackward computes every logit twice; here a
// block of `blockRows` tokens keeps its logits over the whole vocabulary ([blockRows, V] floats, never
// [N, V]) between the forward and the backward. The loss's aggregation weights depend only on the
// mask, so they are computed for the whole batch first; the per-token gradient must then be
// element-wise: modes 'clip' (with clipHigh/dualClip/aggregation, i.e. the DAPO and Dr. GRPO
// settings) and 'cispo'. 'gspo' and 'gspo-token' need whole sequences and are refused (use the
// two-pass ops). On cuda (cuda/linear_logprobs.cu, linear_policy_loss_cuda) the same pieces run as
// the two-pass cuda kernels; a mask value other than 0 or 1 is found on the device (ArgumentError).
// With blockRows = 1024 (the default up to V ≈ 65k) logprobs, dhidden and dweight have the bits of
// the two-pass path; another block size changes only float32 rounding; a fixed one is bit-identical
// on any thread count.
import { binding } from '../binding';
import { ArgumentError, describe } from '../errors';
import { Tensor } from '../tensor';
import type { NativeLinearPolicyLoss, NativeStorage } from '../native';
import { nativeOp } from '../native_call';
import { checkElements, checkMaskOnHost, checkNumber, checkOptionsObject, checkRank, checkShapeEquals, checkTensor, checkTensorsObject, commonDevice, optionalTensor } from '../validate';
import { DEFAULT_LOGPROBS_CHUNK, prepare as prepareLinear } from './linear_token_logprobs';
import { checkPolicyLossOptions, type PolicyLossOptions } from './policy_loss';
import type { PolicyLossModeName } from '../native';

/** The loss modes the one-pass op runs (their per-token gradient is element-wise). */
export const LINEAR_POLICY_LOSS_MODES: readonly PolicyLossModeName[] = ['clip', 'cispo'];

/** Whether ops.linearPolicyLoss runs a loss mode (else use the two-pass ops). */
export function linearPolicyLossSupports(mode: PolicyLossModeName | undefined): boolean {
  return LINEAR_POLICY_LOSS_MODES.includes(mode ?? 'clip');
}

/** Bytes of logits a block may hold unless blockRows says otherwise. */
export const DEFAULT_POLICY_LOSS_BLOCK_BYTES = 256 * 1024 * 1024;
/** At most this many rows per block (the two-pass kernels' block: the same bits up to there). */
export const MAX_POLICY_LOSS_BLOCK_ROWS = 1024;

/** The default rows per block for a vocabulary of V in chunks of `chunk`: ≤ 256 MiB of logits, at most 1024, at least 16. */
export function defaultPolicyLossBlockRows(V: number, chunk = DEFAULT_LOGPROBS_CHUNK): number {
  const rowBytes = 4 * (V + Math.ceil(V / Math.min(chunk, V)));
  return Math.max(16, Math.min(MAX_POLICY_LOSS_BLOCK_ROWS, Math.floor(DEFAULT_POLICY_LOSS_BLOCK_BYTES / rowBytes)));
}

export interface LinearPolicyLossInputs {
  /** float32 [R,T] with R·T = the number of targets: ℓold (constant). */
  oldLogprobs: Tensor;
  /** float32 [R,T]: ℓref; needed when klCoef ≠ 0. */
  refLogprobs?: Tensor;
  /** float32 [R,T]: A per token (constant). */
  advantages: Tensor;
  /** float32 or uint8 [R,T], values 0 or 1. */
  mask: Tensor;
}

export interface LinearPolicyLossOptions extends PolicyLossOptions {
  /** Sampling temperature tau > 0. Default 1. */
  temperature?: number;
  /** Vocabulary columns per tile (an integer ≥ 1). Default 4096. */
  chunkSize?: number;
  /** Token rows whose logits are held at once (an integer ≥ 1). Default defaultPolicyLossBlockRows(V). */
  blockRows?: number;
  /** int32, the shape of targets: the row of hidden each token reads (as linearTokenLogprobs). */
  rows?: Tensor;
  /** float32 [M, C]: accumulated into (+=) and returned; default a new zero-started tensor. */
  dhidden?: Tensor;
  /** float32 [V, C]: the projection's gradient, accumulated into (+=); omit for a frozen weight. */
  dweight?: Tensor;
}

export interface LinearPolicyLossResult {
  /** pgLoss + klLoss (as policyLoss). */
  loss: number;
  pgLoss: number;
  klLoss: number;
  clipFraction: number;
  kl: number;
  approxKl: number;
  /** float32 [R,T]: ℓ, the log-probability of each target. */
  logprobs: Tensor;
  /** float32 [R,T]: logsumexp of each token's logits / tau. */
  logZ: Tensor;
  /** float32 [R,T]: d loss / dℓ (0 off the mask). */
  dlogprobs: Tensor;
  /** float32 [M, C]: d loss / d hidden (options.dhidden when given). */
  dhidden: Tensor;
}

const INPUT_NAMES = ['oldLogprobs', 'refLogprobs', 'advantages', 'mask'];
const OPTION_NAMES = ['mode', 'clipLow', 'clipHigh', 'dualClip', 'klCoef', 'klEstimator', 'aggregation', 'maxLength', 'tokenCount',
  'rowCount', 'lossScale', 'temperature', 'chunkSize', 'blockRows', 'rows', 'dhidden', 'dweight'];

function prepare(hidden: unknown, weight: unknown, targets: unknown, inputs: LinearPolicyLossInputs, options: LinearPolicyLossOptions) {
  checkTensorsObject('inputs', inputs, INPUT_NAMES, '{ oldLogprobs, refLogprobs?, advantages, mask }');
  checkOptionsObject('options', options, OPTION_NAMES);
  const o = options ?? {};
  const p = prepareLinear(hidden, weight, targets, o);
  const old = checkTensor('oldLogprobs', inputs.oldLogprobs, ['float32']);
  checkRank('oldLogprobs', old, 2);
  const [R, T] = old.shape;
  if (R * T !== p.N)
    throw new ArgumentError('oldLogprobs', `Expected [R, T] with R·T = ${p.N} (one per target) but received [${old.shape.join(', ')}]`);
  const ref = optionalTensor('refLogprobs', inputs.refLogprobs, ['float32']);
  const advantages = checkTensor('advantages', inputs.advantages, ['float32']);
  const mask = checkTensor('mask', inputs.mask, ['float32', 'uint8']);
  for (const [name, t] of [['refLogprobs', ref], ['advantages', advantages], ['mask', mask]] as const)
    if (t) checkShapeEquals(name, t, old.shape);
  const dhidden = o.dhidden === undefined ? undefined : checkElements('options.dhidden', o.dhidden, p.M * p.C, [p.M, p.C]);
  const dweight = o.dweight === undefined ? undefined : checkElements('options.dweight', o.dweight, p.V * p.C, [p.V, p.C]);
  commonDevice({
    hidden: p.hidden, oldLogprobs: old, refLogprobs: ref, advantages, mask, 'options.dhidden': dhidden, 'options.dweight': dweight,
  });
  checkMaskOnHost(mask);
  const l = checkPolicyLossOptions(o, R, T, ref, inputs.refLogprobs);
  if (!linearPolicyLossSupports(l.mode))
    throw new ArgumentError('options.mode',
      `Expected a loss mode whose per-token gradient is element-wise (${LINEAR_POLICY_LOSS_MODES.map((m) => `'${m}'`).join(', ')}) for options.mode but received ${describe(l.mode)} (its gradient needs whole sequences: use policyLoss)`);
  const blockRows = checkNumber('options.blockRows', o.blockRows, defaultPolicyLossBlockRows(p.V, p.chunk), { integer: true, min: 1 });
  const args = [
    p.hidden._storage('hidden'), p.weight._storage('weight'), p.targets._storage('targets'), p.rows?._storage('options.rows') ?? null,
    old._storage('oldLogprobs'), ref?._storage('refLogprobs') ?? null, advantages._storage('advantages'),
    mask._storage('mask') as NativeStorage, dhidden?._storage('options.dhidden') ?? null, dweight?._storage('options.dweight') ?? null,
    p.M, p.N, p.C, p.V, p.chunk, p.temperature, R, T, l.clipLow, l.clipHigh, l.dualClip, l.klCoef, l.klEstimator, l.aggregation,
    l.tokenCount, l.rowCount, l.maxLength, l.lossScale, l.mode, blockRows,
  ] as const;
  return { args, shape: old.shape, dhidden, dhShape: dhidden ? dhidden.shape : [p.M, p.C] };
}

const op = nativeOp(
  prepare,
  ({ args }, async) => binding().linearPolicyLoss(...args, async),
  (out: NativeLinearPolicyLoss, { shape, dhidden, dhShape }): LinearPolicyLossResult => ({
    loss: out.loss, pgLoss: out.pgLoss, klLoss: out.klLoss, clipFraction: out.clipFraction, kl: out.kl, approxKl: out.approxKl,
    logprobs: Tensor._wrap(out.logprobs, shape, 'float32'),
    logZ: Tensor._wrap(out.logZ, shape, 'float32'),
    dlogprobs: Tensor._wrap(out.dlogprobs, shape, 'float32'),
    dhidden: dhidden ?? Tensor._wrap(out.dhidden, dhShape, 'float32'),
  }),
);

/**
 * The policy loss of `targets` under softmax(hidden · weightᵀ / tau), its gradient with respect to
 * hidden (returned) and weight (accumulated into options.dweight), in one pass over the vocabulary.
 */
export function linearPolicyLoss(
  hidden: Tensor, weight: Tensor, targets: Tensor, inputs: LinearPolicyLossInputs, options: LinearPolicyLossOptions = {},
): LinearPolicyLossResult {
  return op.sync(hidden, weight, targets, inputs, options);
}

/** linearPolicyLoss off the main thread. */
export function linearPolicyLossAsync(
  hidden: Tensor, weight: Tensor, targets: Tensor, inputs: LinearPolicyLossInputs, options: LinearPolicyLossOptions = {},
): Promise<LinearPolicyLossResult> {
  return op.async(hidden, weight, targets, inputs, options);
}
