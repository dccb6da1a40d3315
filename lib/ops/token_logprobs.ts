// token_logprobs.ts: log-probabilities (and entropies) of the sampled tokens from logits.
//   logprob = z[target]/tau - logsumexp(z/tau),  H = -sum p log p,  p = softmax(z/tau)
// and the gradient back to the logits (ALGORITHMS.md §0 chain rule, §1.9). The forward reads
// each row once and keeps O(rows) extra memory; the backward writes dlogits once.
import { binding } from '../binding';
import { Tensor } from '../tensor';
import type { NativeFloat32, NativeLogprobs } from '../native';
import { nativeOp } from '../native_call';
import { checkBoolean, checkNumber, checkOptionsObject, checkShapeEquals, checkTensor, commonDevice, optionalTensor } from '../validate';
import { ShapeError } from '../errors';

export interface TokenLogprobsOptions {
  /** Sampling temperature tau > 0; logits are divided by it. Default 1. */
  temperature?: number;
  /** Also return the entropy of each row's distribution. Default false. */
  entropy?: boolean;
}

export interface TokenLogprobsResult {
  /** float32 [...]: log-probability of each target. */
  logprobs: Tensor;
  /** float32 [...]: logsumexp of each row of logits/tau; the backward needs it. */
  logZ: Tensor;
  /** float32 [...]: entropy of each row (when requested). */
  entropy?: Tensor;
}

export interface TokenLogprobsBackwardOptions {
  temperature?: number;
  /** Upstream gradient of the entropies, float32 [...]. */
  dentropy?: Tensor;
  /** The forward's entropies; saves a pass over the logits when dentropy is given. */
  entropy?: Tensor;
  /** float32 [...,V] to write dlogits into instead of allocating. */
  out?: Tensor;
}

interface Prepared {
  logits: Tensor;
  targets: Tensor;
  rows: number;
  vocab: number;
  batchShape: readonly number[];
}

function prepare(logits: unknown, targets: unknown): Prepared {
  const l = checkTensor('logits', logits, ['float32', 'bfloat16']);
  const t = checkTensor('targets', targets, ['int32']);
  if (l.shape.length < 1) throw new ShapeError('logits', 'Expected logits of shape [..., V] but received a 0-d tensor');
  const batchShape = l.shape.slice(0, -1);
  const vocab = l.shape[l.shape.length - 1];
  if (vocab < 1) throw new ShapeError('logits', 'Expected a vocabulary of at least 1 in logits [..., V] but received V = 0');
  checkShapeEquals('targets', t, batchShape);
  commonDevice({ logits: l, targets: t });
  return { logits: l, targets: t, rows: t.numel, vocab, batchShape };
}

function forwardArgs(logits: unknown, targets: unknown, options: TokenLogprobsOptions) {
  checkOptionsObject('options', options, ['temperature', 'entropy']);
  const p = prepare(logits, targets);
  const temperature = checkNumber('options.temperature', options.temperature, 1, { above: 0 });
  const entropy = checkBoolean('options.entropy', options.entropy, false);
  return { p, temperature, entropy };
}

/** The addon's log-probs (and entropies) as tensors of the batch shape; shared with linearTokenLogprobs. */
export function wrapLogprobs(out: NativeLogprobs, batchShape: readonly number[]): TokenLogprobsResult {
  const result: TokenLogprobsResult = {
    logprobs: Tensor._wrap(out.logprobs, batchShape, 'float32'),
    logZ: Tensor._wrap(out.logZ, batchShape, 'float32'),
  };
  if (out.entropy) result.entropy = Tensor._wrap(out.entropy, batchShape, 'float32');
  return result;
}

const forward = nativeOp(
  forwardArgs,
  ({ p, temperature, entropy }, async) =>
    binding().tokenLogprobs(p.logits._storage('logits'), p.targets._storage('targets'), p.rows, p.vocab, temperature, entropy, async),
  (out: NativeLogprobs, { p }) => wrapLogprobs(out, p.batchShape),
);

export function tokenLogprobs(logits: Tensor, targets: Tensor, options: TokenLogprobsOptions = {}): TokenLogprobsResult {
  return forward.sync(logits, targets, options);
}

/** tokenLogprobs off the main thread: the event loop keeps running while the kernel does. */
export function tokenLogprobsAsync(logits: Tensor, targets: Tensor, options: TokenLogprobsOptions = {}): Promise<TokenLogprobsResult> {
  return forward.async(logits, targets, options);
}

function backwardArgs(logits: unknown, targets: unknown, logZ: unknown, dlogprobs: unknown, options: TokenLogprobsBackwardOptions) {
  checkOptionsObject('options', options, ['temperature', 'dentropy', 'entropy', 'out']);
  const p = prepare(logits, targets);
  const z = checkTensor('logZ', logZ, ['float32']);
  const g = checkTensor('dlogprobs', dlogprobs, ['float32']);
  const dentropy = optionalTensor('options.dentropy', options.dentropy, ['float32']);
  const entropy = optionalTensor('options.entropy', options.entropy, ['float32']);
  const out = optionalTensor('options.out', options.out, ['float32']);
  checkShapeEquals('logZ', z, p.batchShape);
  checkShapeEquals('dlogprobs', g, p.batchShape);
  if (dentropy) checkShapeEquals('options.dentropy', dentropy, p.batchShape);
  if (entropy) checkShapeEquals('options.entropy', entropy, p.batchShape);
  if (out) checkShapeEquals('options.out', out, p.logits.shape);
  commonDevice({ logits: p.logits, logZ: z, dlogprobs: g, 'options.dentropy': dentropy, 'options.entropy': entropy, 'options.out': out });
  const temperature = checkNumber('options.temperature', options.temperature, 1, { above: 0 });
  const args = [
    p.logits._storage('logits'), p.targets._storage('targets'), z._storage('logZ'), g._storage('dlogprobs'),
    entropy?._storage('options.entropy') ?? null, dentropy?._storage('options.dentropy') ?? null,
    p.rows, p.vocab, temperature, out?._storage('options.out') ?? null,
  ] as const;
  return { args, shape: p.logits.shape, out };
}

const backward = nativeOp(
  backwardArgs,
  ({ args }, async) => binding().tokenLogprobsBackward(...args, async),
  (dlogits: NativeFloat32, { shape, out }) => out ?? Tensor._wrap(dlogits, shape, 'float32'),
);

export function tokenLogprobsBackward(
  logits: Tensor, targets: Tensor, logZ: Tensor, dlogprobs: Tensor, options: TokenLogprobsBackwardOptions = {},
): Tensor {
  return backward.sync(logits, targets, logZ, dlogprobs, options);
}

export function tokenLogprobsBackwardAsync(
  logits: Tensor, targets: Tensor, logZ: Tensor, dlogprobs: Tensor, options: TokenLogprobsBackwardOptions = {},
): Promise<Tensor> {
  return backward.async(logits, targets, logZ, dlogprobs, options);
}
