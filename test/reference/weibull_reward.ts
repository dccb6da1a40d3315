// reference/weibull_reward.ts: float64 plain loops, the executable spec of weibullReward
// (ALGORITHMS.md §3.2 shaping, §2 aggregation). h is written in its direct form
// C·(k/λ)·(n/λ)^(k−1)·exp(−(n/λ)^k); ff exactly as in §3.2 (the released PSPO code).
export interface WeibullReferenceOptions {
  shaping?: 'weibull' | 'pspo_ff' | 'linear';
  aggregate?: 'geomean' | 'product' | 'min' | 'last';
  k?: number;
  lambda?: number;
  peak?: number;
  minSteps?: number;
}

export function weibullH(n: number, k = 1.5, lambda = 8, C = 10.735): number {
  return C * (k / lambda) * Math.pow(n / lambda, k - 1) * Math.exp(-Math.pow(n / lambda, k));
}

export function pspoFF(s: number, n: number): number {
  if (n > 0 && n <= 4) return s * Math.exp(0.5 * n);
  const tau = 1 / (1 + Math.exp(-10 * (n - 4)));
  const b = s * Math.exp(2);
  const g = s > 0.88433 ? 0.1 : s > 0 && s < 0.2 ? -0.1 : (0.1 * (s - 0.21159)) / 0.88433;
  return b * (1 - tau) + tau * b * Math.exp(g * (n - 4));
}

export function aggregateSteps(p: ArrayLike<number>, aggregate: WeibullReferenceOptions['aggregate'] = 'geomean'): number {
  const K = p.length;
  let logSum = 0;
  for (let j = 0; j < K; j++) logSum += Math.log(Math.max(p[j], 1e-12));
  switch (aggregate) {
    case 'geomean': return Math.exp(logSum / K);
    case 'product': return Math.exp(logSum);
    case 'min': return Math.min(...Array.from(p));
    case 'last': return p[K - 1];
  }
}

export function weibullRewardReference(
  scores: ArrayLike<number>, offsets: ArrayLike<number>, o: WeibullReferenceOptions = {},
): Float64Array {
  const R = offsets.length - 1;
  const out = new Float64Array(R);
  for (let i = 0; i < R; i++) {
    const p = Array.from({ length: offsets[i + 1] - offsets[i] }, (_, j) => scores[offsets[i] + j]);
    const K = p.length;
    if (K === 0 || K < (o.minSteps ?? 2)) continue;
    const s = aggregateSteps(p, o.aggregate);
    const shaping = o.shaping ?? 'weibull';
    out[i] = shaping === 'weibull' ? s * weibullH(K, o.k, o.lambda, o.peak) : shaping === 'pspo_ff' ? s * pspoFF(s, K) : s;
  }
  return out;
}
