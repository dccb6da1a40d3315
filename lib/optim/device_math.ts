// device_math.ts: the few per-token steps of an RL step that have no kernel of their own, made of
// existing ops so that they run where the batch lives (the policy's device) and the host reads only
// scalars: masking and broadcasting are gathers (ops.embedding over a [N+1, 1] table whose last
// row is 0, with row ids built on the host from the response lengths), differences and absolute
// values are the KL estimators k1 / abs, squares k2 (= d²/2), and masked sums one GEMM against the
// mask. The cpu path of the pipeline does not use these: it keeps its host loops, bit for bit.
import * as ops from '../ops/index';
import { Tensor, type Device } from '../tensor';

/** Row ids [R·T] that keep token (r, t) for t < lengths[r] (its own index) and send padding to `zero`. */
export function keepIds(lengths: Int32Array, T: number, source: (r: number, t: number) => number, zero: number): Int32Array {
  const ids = new Int32Array(lengths.length * T);
  for (let r = 0; r < lengths.length; r++)
    for (let t = 0; t < T; t++) ids[r * T + t] = t < lengths[r] ? source(r, t) : zero;
  return ids;
}

/** out[i] = values[ids[i]], and 0 where ids[i] = values.numel: a [ids.length] tensor on values' device. */
export function gather(values: Tensor, ids: Int32Array): Tensor {
  const device = values.device, N = values.numel;
  const table = Tensor.zeros([N + 1, 1], { device });
  const body = table.view(0, [N]), flat = values.reshape([N]);
  body.copyFrom(flat);
  const tokens = Tensor.from(ids, [ids.length], { device });
  const out = ops.embedding({ out: Tensor.zeros([ids.length, 1], { device }), tokens, table });
  const result = out.reshape([ids.length]);
  for (const t of [table, body, flat, tokens, out]) t.dispose();
  return result;
}

/** values [R, T] with 0 on padding (t ≥ lengths[r]). */
export function maskByLengths(values: Tensor, lengths: Int32Array, T: number): Tensor {
  const R = lengths.length;
  const out = gather(values, keepIds(lengths, T, (r, t) => r * T + t, R * T));
  const shaped = out.reshape([R, T]);
  out.dispose();
  return shaped;
}

/** [R, T]: perRow[r] on the tokens t < lengths[r], 0 on padding (broadcastRows on the device). */
export function broadcastRowsOn(perRow: Float32Array | Tensor, lengths: Int32Array, T: number, device: Device): Tensor {
  const R = lengths.length;
  const rows = perRow instanceof Tensor ? perRow : Tensor.from(perRow, [R], { device });
  const out = gather(rows, keepIds(lengths, T, (r) => r, R));
  if (!(perRow instanceof Tensor)) rows.dispose();
  const shaped = out.reshape([R, T]);
  out.dispose();
  return shaped;
}

/** a − b elementwise (float32, any shape; the k1 estimator). */
export function difference(a: Tensor, b: Tensor): Tensor {
  const { kl, dkl } = ops.klPenalty(a, b, { estimator: 'k1' });
  dkl.dispose();
  return kl;
}

/** |a − b| elementwise (b = 0 when absent). */
export function absDifference(a: Tensor, b?: Tensor): Tensor {
  const zero = b ?? Tensor.zeros(a.shape, { device: a.device });
  const { kl, dkl } = ops.klPenalty(a, zero, { estimator: 'abs' });
  dkl.dispose();
  if (!b) zero.dispose();
  return kl;
}

/** a²/2 elementwise (the k2 estimator against 0). */
export function halfSquare(a: Tensor): Tensor {
  const zero = Tensor.zeros(a.shape, { device: a.device });
  const { kl, dkl } = ops.klPenalty(a, zero, { estimator: 'k2' });
  for (const t of [zero, dkl]) t.dispose();
  return kl;
}

/**
 * Σ_i rows[k][i]·mask[i] for each of the k tensors (N elements each, on mask's device): one
 * [k, N]·[N] GEMM and one read of k floats.
 */
export function maskedSums(rows: readonly Tensor[], mask: Tensor): number[] {
  const device = mask.device, N = mask.numel, k = rows.length;
  const stacked = Tensor.zeros([k, N], { device });
  rows.forEach((row, i) => {
    const into = stacked.view(i * N, [N]), flat = row.reshape([N]);
    into.copyFrom(flat);
    into.dispose();
    flat.dispose();
  });
  const weight = mask.reshape([1, N]);
  const out = ops.matmul({ out: Tensor.zeros([k, 1], { device }), inp: stacked, weight });
  const sums = Array.from(out.toArray() as Float32Array);
  for (const t of [stacked, weight, out]) t.dispose();
  return sums;
}

/** S[r, t] = Σ_{t' ≥ t} x[r, t'] for x [R, T] (one GEMM with the [T, T] suffix matrix). */
export function suffixSums(x: Tensor, R: number, T: number): Tensor {
  const upper = new Float32Array(T * T);
  for (let t = 0; t < T; t++) for (let u = t; u < T; u++) upper[t * T + u] = 1;  // weight[t, u] = 1 for u ≥ t
  const weight = Tensor.from(upper, [T, T], { device: x.device });
  const inp = x.reshape([R, T]);
  const out = ops.matmul({ out: Tensor.zeros([R, T], { device: x.device }), inp, weight });
  weight.dispose();
  inp.dispose();
  return out;
}

/**
 * The means over response tokens of |A − perRow[row]| and |perRow[row]| (signal.ts maskedAbsResidual
 * and maskedRowAbsMean) for advantages A on the device: one masked GEMM (one float read), the
 * second from the lengths on the host.
 */
export function residualMeans(advantages: Tensor, perRow: Float32Array, lengths: Int32Array, T: number, mask: Tensor): [number, number] {
  const rowValues = broadcastRowsOn(perRow, lengths, T, advantages.device), residual = absDifference(advantages, rowValues.reshape(advantages.shape));
  const [residualSum] = maskedSums([residual], mask);
  for (const t of [rowValues, residual]) t.dispose();
  let tokens = 0, rowSum = 0;
  lengths.forEach((n, r) => {
    tokens += n;
    rowSum += Math.abs(perRow[r]) * n;
  });
  return tokens > 0 ? [residualSum / tokens, rowSum / tokens] : [0, 0];
}
