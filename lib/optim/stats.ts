// stats.ts: the statistics of the learning benchmark (issue 16): the unbiased pass@k estimator
// from n samples per problem (Chen et al. 2021, "Evaluating Large Language Models Trained on
// Code"), and means with 95% Student-t intervals over seeds, plain and paired.

/**
 * Unbiased pass@k of one problem with c correct out of n samples: 1 − C(n−c, k)/C(n, k), computed
 * as 1 − Π_{i=n−c+1..n} (1 − k/i), which never forms a binomial coefficient (stable for any n).
 */
export function passAtK(n: number, c: number, k: number): number {
  if (!Number.isInteger(n) || !Number.isInteger(c) || !Number.isInteger(k) || n < 1 || c < 0 || c > n || k < 1 || k > n)
    throw new RangeError(`passAtK: expected integers 0 <= c <= n and 1 <= k <= n, received n=${n}, c=${c}, k=${k}`);
  if (n - c < k) return 1;
  let product = 1;
  for (let i = n - c + 1; i <= n; i++) product *= 1 - k / i;
  return 1 - product;
}

/** Mean over problems of passAtK, for each k (every problem must have the same n). */
export function passAtKCurve(correctCounts: readonly number[], n: number, ks: readonly number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const k of ks) out[k] = correctCounts.reduce((s, c) => s + passAtK(n, c, k), 0) / Math.max(correctCounts.length, 1);
  return out;
}

// Two-sided 95% quantiles t_{0.975, ν} for ν = 1..30 (standard tables).
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** t_{0.975, ν}: the table for ν ≤ 30, beyond it the Cornish-Fisher expansion around z = 1.959964. */
export function tQuantile975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`tQuantile975: expected an integer df >= 1, received ${df}`);
  if (df <= 30) return T975[df - 1];
  const z = 1.959963985, z3 = z ** 3, z5 = z ** 5, z7 = z ** 7;
  return z + (z3 + z) / (4 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96 * df ** 2) + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * df ** 3);
}

export interface Interval {
  n: number;
  mean: number;
  /** Sample std (divisor n − 1); 0 for n = 1. */
  std: number;
  /** Half-width of the 95% t interval; NaN for n = 1 (no interval from one seed). */
  half: number;
  low: number;
  high: number;
}

/** Mean and 95% t interval of independent values (e.g. one per seed). */
export function meanInterval(values: readonly number[]): Interval {
  const n = values.length;
  if (n === 0) return { n, mean: NaN, std: NaN, half: NaN, low: NaN, high: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  const half = n > 1 ? (tQuantile975(n - 1) * std) / Math.sqrt(n) : NaN;
  return { n, mean, std, half, low: mean - half, high: mean + half };
}

/** Mean and 95% t interval of the paired differences a[i] − b[i] (same seed, same problems). */
export function pairedInterval(a: readonly number[], b: readonly number[]): Interval {
  if (a.length !== b.length) throw new RangeError(`pairedInterval: expected equally long series, received ${a.length} and ${b.length}`);
  return meanInterval(a.map((x, i) => x - b[i]));
}
