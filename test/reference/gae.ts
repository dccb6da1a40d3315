// reference/gae.ts: float64 plain loops, the executable spec of gae (ALGORITHMS.md §1.8):
// r and V masked, V_T = 0, δ_t = r_t + γV_{t+1} − V_t, Â_t = δ_t + γλÂ_{t+1}, returns = (Â + V)·m;
// whitening over the valid tokens: (Â − mean)/sqrt(var·n/(n − 1) + 1e-8) (var 0 when n ≤ 1), Â·m.
export interface GaeReferenceOptions {
  gamma?: number;
  lambda?: number;
  whiten?: boolean;
}

export function gaeReference(
  rewards: ArrayLike<number>, values: ArrayLike<number>, mask: ArrayLike<number>, R: number, T: number, o: GaeReferenceOptions = {},
): { advantages: Float64Array; returns: Float64Array } {
  const gamma = o.gamma ?? 1, lambda = o.lambda ?? 0.95;
  const advantages = new Float64Array(R * T), returns = new Float64Array(R * T);
  for (let i = 0; i < R; i++) {
    const m = (t: number) => (mask[i * T + t] !== 0 ? 1 : 0);
    const V = (t: number) => (t < T ? values[i * T + t] * m(t) : 0);
    let last = 0;
    for (let t = T - 1; t >= 0; t--) {
      const delta = rewards[i * T + t] * m(t) + gamma * V(t + 1) - V(t);
      last = delta + gamma * lambda * last;
      advantages[i * T + t] = last * m(t);
      returns[i * T + t] = (last + V(t)) * m(t);
    }
  }
  if (o.whiten ?? true) {
    let n = 0, sum = 0;
    for (let k = 0; k < R * T; k++) if (mask[k] !== 0) { n++; sum += advantages[k]; }
    const mean = n > 0 ? sum / n : 0;
    let squares = 0;
    for (let k = 0; k < R * T; k++) if (mask[k] !== 0) squares += (advantages[k] - mean) ** 2;
    const variance = n > 1 ? (squares / n) * (n / (n - 1)) : 0;
    for (let k = 0; k < R * T; k++) advantages[k] = mask[k] !== 0 ? (advantages[k] - mean) / Math.sqrt(variance + 1e-8) : 0;
  }
  return { advantages, returns };
}
