// reference/reinforce_advantage.ts: float64 plain loops, the executable spec of reinforceAdvantages
// (REINFORCE++, arXiv 2501.03262; docs/ALGORITHMS-baselines.md §B2), written as OpenRLHF's steps:
// per-token reward −β·(ℓold − ℓref)·m plus the (group-centred) outcome on the last valid token,
// discounted cumulative returns, then (G − mean)·rsqrt(max(var, 1e-8)) over valid tokens, population
// variance. One-row groups keep r; all-equal groups centre to 0 exactly.
export interface ReinforceReferenceOptions {
  klCoef?: number;
  gamma?: number;
  normalize?: boolean;
}

export function reinforceReference(
  rewards: ArrayLike<number>, mask: ArrayLike<number>, R: number, T: number, o: ReinforceReferenceOptions = {},
  groupIds?: ArrayLike<number>, oldLogprobs?: ArrayLike<number>, refLogprobs?: ArrayLike<number>,
): { advantages: Float64Array; returns: Float64Array } {
  const beta = o.klCoef ?? 0, gamma = o.gamma ?? 1;
  const outcome = Float64Array.from(rewards);
  if (groupIds) {
    const rows = new Map<number, number[]>();
    for (let i = 0; i < R; i++) rows.set(groupIds[i], [...(rows.get(groupIds[i]) ?? []), i]);
    for (const group of rows.values()) {
      if (group.length === 1) continue;
      const values = group.map((i) => rewards[i]);
      const mean = values.reduce((a, b) => a + b, 0) / group.length;
      const equal = values.every((v) => v === values[0]);
      for (const i of group) outcome[i] = equal ? 0 : rewards[i] - mean;
    }
  }
  const returns = new Float64Array(R * T), advantages = new Float64Array(R * T);
  for (let i = 0; i < R; i++) {
    let L = 0;
    for (let t = 0; t < T; t++) if (mask[i * T + t] !== 0) L = t + 1;
    let carry = 0;
    for (let t = T - 1; t >= 0; t--) {
      const j = i * T + t, on = mask[j] !== 0;
      let reward = on && beta !== 0 ? -beta * (oldLogprobs![j] - refLogprobs![j]) : 0;
      if (t === L - 1) reward += outcome[i];
      carry = reward + gamma * carry;
      returns[j] = on ? Math.fround(carry) : 0;
    }
  }
  advantages.set(returns);
  if (o.normalize ?? true) {
    let n = 0, sum = 0;
    for (let j = 0; j < R * T; j++) if (mask[j] !== 0) { n++; sum += returns[j]; }
    if (n > 0) {
      const mean = sum / n;
      let squares = 0;
      for (let j = 0; j < R * T; j++) if (mask[j] !== 0) squares += (returns[j] - mean) ** 2;
      const rstd = 1 / Math.sqrt(Math.max(squares / n, 1e-8));
      for (let j = 0; j < R * T; j++) advantages[j] = mask[j] !== 0 ? (returns[j] - mean) * rstd : 0;
    }
  }
  return { advantages, returns };
}
