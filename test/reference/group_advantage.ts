// reference/group_advantage.ts: float64 plain loops, the executable spec of groupAdvantages
// (ALGORITHMS.md §1.5, §6.4): groups keyed by id, mean then centred sum of squares in row order,
// σ with divisor G − 1 or G; G = 1 → μ = 0, σ = 1 (verl); all rewards equal → A = 0 exactly.
export interface GroupAdvantageReferenceOptions {
  scale?: 'std' | 'none';
  eps?: number;
  std?: 'unbiased' | 'population';
}

export function groupAdvantagesReference(
  rewards: ArrayLike<number>, groupIds: ArrayLike<number>, o: GroupAdvantageReferenceOptions = {},
): Float64Array {
  const eps = o.eps ?? 1e-6;
  const groups = new Map<number, number[]>();
  for (let i = 0; i < rewards.length; i++) {
    const rows = groups.get(groupIds[i]) ?? [];
    rows.push(i);
    groups.set(groupIds[i], rows);
  }
  const out = new Float64Array(rewards.length);
  for (const rows of groups.values()) {
    const G = rows.length;
    const values = rows.map((i) => rewards[i]);
    if (G > 1 && values.every((v) => v === values[0])) continue; // A = 0
    let mean = 0, sigma = 1;
    if (G > 1) {
      mean = values.reduce((a, b) => a + b, 0) / G;
      const squares = values.reduce((a, v) => a + (v - mean) * (v - mean), 0);
      sigma = Math.sqrt(squares / ((o.std ?? 'unbiased') === 'unbiased' ? G - 1 : G));
    }
    for (const i of rows) out[i] = (o.scale ?? 'std') === 'std' ? (rewards[i] - mean) / (sigma + eps) : rewards[i] - mean;
  }
  return out;
}

/**
 * RLOO (Ahmadian et al., arXiv 2402.14740): A_i = r_i − (Σ_{j∈g} r_j − r_i)/(G − 1), written as the
 * paper states it (the leave-one-out mean), not as the kernels' G/(G−1)·(r_i − μ_g); all-equal
 * groups → 0 exactly. Throws on a group of one row.
 */
export function rlooAdvantagesReference(rewards: ArrayLike<number>, groupIds: ArrayLike<number>): Float64Array {
  const sums = new Map<number, number>(), counts = new Map<number, number>();
  for (let i = 0; i < rewards.length; i++) {
    sums.set(groupIds[i], (sums.get(groupIds[i]) ?? 0) + rewards[i]);
    counts.set(groupIds[i], (counts.get(groupIds[i]) ?? 0) + 1);
  }
  const out = new Float64Array(rewards.length);
  for (let i = 0; i < rewards.length; i++) {
    const G = counts.get(groupIds[i])!;
    if (G < 2) throw new Error(`group ${groupIds[i]} has one row`);
    out[i] = rewards[i] - (sums.get(groupIds[i])! - rewards[i]) / (G - 1);
  }
  const equal = new Map<number, boolean>(), first = new Map<number, number>();
  for (let i = 0; i < rewards.length; i++) {
    if (!first.has(groupIds[i])) first.set(groupIds[i], rewards[i]);
    equal.set(groupIds[i], (equal.get(groupIds[i]) ?? true) && rewards[i] === first.get(groupIds[i]));
  }
  for (let i = 0; i < rewards.length; i++) if (equal.get(groupIds[i])) out[i] = 0;
  return out;
}
