// reference/prpo_advantage.ts: float64 plain loops, the executable spec of prpoAdvantages
// (ALGORITHMS.md §5.4): β_i = r_i − mean of the group's rewards; z = (s − μ0)/σ0 (fixed) or
// (s − μ_g)/(σ_g + eps) with the group's valid tokens pooled (unbiased; a pool of ≤ 1 token has σ = 0;
// σ + eps = 0 gives z = 0); A = (z + β)·m. compat: t = L − 1 keeps s + β and is not pooled.
export interface PrpoReferenceOptions {
  prior?: 'fixed' | 'empirical';
  mu0?: number;
  sigma0?: number;
  eps?: number;
  compat?: boolean;
}

export function prpoAdvantagesReference(
  scores: ArrayLike<number>, rewards: ArrayLike<number>, groupIds: ArrayLike<number>, mask: ArrayLike<number>,
  R: number, T: number, o: PrpoReferenceOptions = {},
): Float64Array {
  const compat = o.compat ?? false, eps = o.eps ?? 1e-6;
  const lengths = Array.from({ length: R }, (_, i) => {
    let L = 0;
    for (let t = 0; t < T; t++) if (mask[i * T + t] !== 0) L = t + 1;
    return L;
  });
  const pooled = (i: number, t: number) => mask[i * T + t] !== 0 && !(compat && t === lengths[i] - 1);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < R; i++) groups.set(groupIds[i], [...(groups.get(groupIds[i]) ?? []), i]);
  const A = new Float64Array(R * T);
  for (const rows of groups.values()) {
    const rewardMean = rows.reduce((a, i) => a + rewards[i], 0) / rows.length;
    let mu = o.mu0 ?? 0.5, sigma = o.sigma0 ?? Math.sqrt(1 / 24);
    if ((o.prior ?? 'fixed') === 'empirical') {
      const pool: number[] = [];
      for (const i of rows) for (let t = 0; t < T; t++) if (pooled(i, t)) pool.push(scores[i * T + t]);
      mu = pool.length > 0 ? pool.reduce((a, b) => a + b, 0) / pool.length : 0;
      const std = pool.length > 1 ? Math.sqrt(pool.reduce((a, s) => a + (s - mu) ** 2, 0) / (pool.length - 1)) : 0;
      sigma = std + eps;
    }
    for (const i of rows) {
      const beta = rewards[i] - rewardMean;
      for (let t = 0; t < T; t++) {
        if (mask[i * T + t] === 0) continue;
        const s = scores[i * T + t];
        const z = sigma > 0 ? (s - mu) / sigma : 0;
        A[i * T + t] = compat && t === lengths[i] - 1 ? s + beta : z + beta;
      }
    }
  }
  return A;
}
