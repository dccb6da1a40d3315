// linear_token_logprobs.ts: token log-probabilities (and entropies) straight from hidden states and
// the output projection (lm_head), never holding the [N,V] logits:
//   z = h · Wᵀ,  logprob = z[target]/tau - logsumexp(z/tau),  H = -Σ p log p,  p = softmax(z/tau)
// The vocabulary is walked in chunks of `chunkSize` columns: the forward merges each chunk's
// log-sum-exp online; the backward recomputes each chunk's logits, turns them into dlogits in place,
// and adds dlogits · W_chunk into dhidden and dlogitsᵀ · h into dweight (arXiv 2411.09009). Extra
// memory is one [rows, chunk] tile, never [N,V]. hidden and weight may be float32 or bfloat16 (widened
// to float32 a block at a time); outputs and gradients are float32. Results are bit-identical for a
// fixed chunk size on any thread count; another chunk size changes only float32 rounding.
import { binding } from '../binding';
import { Tensor } from '../tensor';
import type { NativeFloat32, NativeLogprobs } from '../native';
import { nativeOp } from '../native_call';
import { wrapLogprobs } from './token_logprobs';
import { checkBoolean, checkDims, checkElements, checkNumber, checkOptionsObject, checkShapeEquals, checkTensor, commonDevice, optionalTensor, rowsOf } from '../validate';
import { ArgumentError } from '../errors';

/** Vocabulary columns per chunk unless told otherwise. */
export const DEFAULT_LOGPROBS_CHUNK = 4096;

export interface LinearTokenLogprobsOptions {
  /** Sampling temperature tau > 0; logits are divided by it. Default 1. */
  temperature?: number;
  /** Also return each token's entropy. Default false. */
  entropy?: boolean;
  /** Vocabulary columns per chunk (an integer >= 1). Default 4096. */
  chunkSize?: number;
  /**
   * int32, the shape of targets: the row of hidden each token reads (distinct, in [0, M)). Lets a
   * model hand over all its hidden states and name the positions that matter without copying them.
   * Without it, token i reads row i and hidden has exactly one row per target.
   */
  rows?: Tensor;
}

export interface LinearTokenLogprobsResult {
  /** float32, the shape of targets: log-probability of each target. */
  logprobs: Tensor;
  /** float32: logsumexp of each token's logits/tau; the backward needs it. */
  logZ: Tensor;
  /** float32: entropy of each token's distribution (when requested). */
  entropy?: Tensor;
}

export interface LinearTokenLogprobsBackwardOptions {
  temperature?: number;
  chunkSize?: number;
  rows?: Tensor;
  /** Upstream gradient of the entropies (float32, the shape of targets); needs `entropy`. */
  dentropy?: Tensor;
  /** The forward's entropies (required with dentropy). */
  entropy?: Tensor;
  /** float32 [M, C]: accumulated into (+=) and returned; default a new zero-started tensor. */
  dhidden?: Tensor;
  /** float32 [V, C]: the projection's gradient, accumulated into (+=); omit for a frozen weight. */
  dweight?: Tensor;
}

export interface Prepared {
  hidden: Tensor;
  weight: Tensor;
  targets: Tensor;
  rows: Tensor | undefined;
  M: number;
  N: number;
  C: number;
  V: number;
  chunk: number;
  temperature: number;
}

/** Checks hidden, weight, targets and the shared options (also for ops.linearPolicyLoss). */
export function prepare(
  hidden: unknown, weight: unknown, targets: unknown, options: { temperature?: number; chunkSize?: number; rows?: Tensor },
): Prepared {
  const w = checkTensor('weight', weight, ['float32', 'bfloat16']);
  const [V, C] = checkDims('weight', w, 2, '[V, C]');
  if (V < 1) throw new ArgumentError('weight', 'Expected a vocabulary of at least 1 in weight [V, C] but received V = 0');
  const h = checkTensor('hidden', hidden, ['float32', 'bfloat16']);
  const M = rowsOf('hidden', h, C, String(C));
  const t = checkTensor('targets', targets, ['int32']);
  const rows = optionalTensor('options.rows', options.rows, ['int32']);
  if (rows) checkShapeEquals('options.rows', rows, t.shape);
  else if (M !== t.numel) checkElements('hidden', h, t.numel * C, [...t.shape, C], h.dtype);
  commonDevice({ hidden: h, weight: w, targets: t, 'options.rows': rows });
  const temperature = checkNumber('options.temperature', options.temperature, 1, { above: 0 });
  const chunk = checkNumber('options.chunkSize', options.chunkSize, DEFAULT_LOGPROBS_CHUNK, { integer: true, min: 1 });
  return { hidden: h, weight: w, targets: t, rows, M, N: t.numel, C, V, chunk, temperature };
}

function forwardArgs(hidden: unknown, weight: unknown, targets: unknown, options: LinearTokenLogprobsOptions) {
  checkOptionsObject('options', options, ['temperature', 'entropy', 'chunkSize', 'rows']);
  const p = prepare(hidden, weight, targets, options);
  const entropy = checkBoolean('options.entropy', options.entropy, false);
  const args = [
    p.hidden._storage('hidden'), p.weight._storage('weight'), p.targets._storage('targets'),
    p.rows?._storage('options.rows') ?? null, p.M, p.N, p.C, p.V, p.chunk, p.temperature, entropy,
  ] as const;
  return { p, args };
}

const forward = nativeOp(
  forwardArgs,
  ({ args }, async) => binding().linearTokenLogprobs(...args, async),
  (out: NativeLogprobs, { p }): LinearTokenLogprobsResult => wrapLogprobs(out, p.targets.shape),
);

/** Log-probabilities of `targets` under softmax(hidden · weightᵀ / tau), chunk by chunk. */
export function linearTokenLogprobs(
  hidden: Tensor, weight: Tensor, targets: Tensor, options: LinearTokenLogprobsOptions = {},
): LinearTokenLogprobsResult {
  return forward.sync(hidden, weight, targets, options);
}

/** linearTokenLogprobs off the main thread: the event loop keeps running while the kernels do. */
export function linearTokenLogprobsAsync(
  hidden: Tensor, weight: Tensor, targets: Tensor, options: LinearTokenLogprobsOptions = {},
): Promise<LinearTokenLogprobsResult> {
  return forward.async(hidden, weight, targets, options);
}

function backwardArgs(
  hidden: unknown, weight: unknown, targets: unknown, logZ: unknown, dlogprobs: unknown,
  options: LinearTokenLogprobsBackwardOptions,
) {
  checkOptionsObject('options', options, ['temperature', 'chunkSize', 'rows', 'dentropy', 'entropy', 'dhidden', 'dweight']);
  const p = prepare(hidden, weight, targets, options);
  const shape = p.targets.shape;
  const z = checkTensor('logZ', logZ, ['float32']);
  const g = checkTensor('dlogprobs', dlogprobs, ['float32']);
  checkShapeEquals('logZ', z, shape);
  checkShapeEquals('dlogprobs', g, shape);
  const dentropy = optionalTensor('options.dentropy', options.dentropy, ['float32']);
  const entropy = optionalTensor('options.entropy', options.entropy, ['float32']);
  if (dentropy) checkShapeEquals('options.dentropy', dentropy, shape);
  if (entropy) checkShapeEquals('options.entropy', entropy, shape);
  if (dentropy && !entropy)
    throw new ArgumentError('options.entropy', "Expected the forward's entropy in options.entropy alongside options.dentropy but received none");
  const dhidden = options.dhidden === undefined ? undefined : checkElements('options.dhidden', options.dhidden, p.M * p.C, [p.M, p.C]);
  const dweight = options.dweight === undefined ? undefined : checkElements('options.dweight', options.dweight, p.V * p.C, [p.V, p.C]);
  commonDevice({
    hidden: p.hidden, logZ: z, dlogprobs: g, 'options.dentropy': dentropy, 'options.entropy': entropy,
    'options.dhidden': dhidden, 'options.dweight': dweight,
  });
  const args = [
    p.hidden._storage('hidden'), p.weight._storage('weight'), p.targets._storage('targets'),
    p.rows?._storage('options.rows') ?? null, z._storage('logZ'), g._storage('dlogprobs'),
    entropy?._storage('options.entropy') ?? null, dentropy?._storage('options.dentropy') ?? null,
    dhidden?._storage('options.dhidden') ?? null, dweight?._storage('options.dweight') ?? null,
    p.M, p.N, p.C, p.V, p.chunk, p.temperature,
  ] as const;
  const dhShape = dhidden ? dhidden.shape : [p.M, p.C];
  return { args, dhidden, dhShape };
}

const backward = nativeOp(
  backwardArgs,
  ({ args }, async) => binding().linearTokenLogprobsBackward(...args, async),
  (out: NativeFloat32, { dhidden, dhShape }) => dhidden ?? Tensor._wrap(out, dhShape, 'float32'),
);

/**
 * Gradients of the log-probabilities (and entropies): returns dhidden (options.dhidden, accumulated
 * into, or a new [M, C]) and accumulates the projection's gradient into options.dweight.
 */
export function linearTokenLogprobsBackward(
  hidden: Tensor, weight: Tensor, targets: Tensor, logZ: Tensor, dlogprobs: Tensor,
  options: LinearTokenLogprobsBackwardOptions = {},
): Tensor {
  return backward.sync(hidden, weight, targets, logZ, dlogprobs, options);
}

export function linearTokenLogprobsBackwardAsync(
  hidden: Tensor, weight: Tensor, targets: Tensor, logZ: Tensor, dlogprobs: Tensor,
  options: LinearTokenLogprobsBackwardOptions = {},
): Promise<Tensor> {
  return backward.async(hidden, weight, targets, logZ, dlogprobs, options);
}
