// reference/prl_advantage.ts: float64 plain loops, the executable spec of prlAdvantages
// (ALGORITHMS.md §4.3): d = m·(ℓold − ℓref); S[t] = Σ_{t' ≥ t} d (S[T] = 0); step ends
// E = {t : stepEnds[t] ≠ 0} ∪ {L − 1} (token mode: every t with m = 1); v[e] = Â − S[e]/η
// (inclusive) or Â − S[e+1]/η (next_step); A[t] = v[min{e ∈ E : e ≥ t}]·m[t]. L = one past the last m = 1.
export interface PrlReferenceOptions {
  eta?: number;
  mode?: 'step' | 'token';
  suffixStart?: 'inclusive' | 'next_step';
}

export function prlAdvantagesReference(
  outcome: ArrayLike<number>, old: ArrayLike<number>, ref: ArrayLike<number>, mask: ArrayLike<number>,
  stepEnds: ArrayLike<number> | null, R: number, T: number, o: PrlReferenceOptions = {},
): Float64Array {
  const eta = o.eta ?? 200, mode = o.mode ?? 'step', nextStep = (o.suffixStart ?? 'inclusive') === 'next_step';
  const A = new Float64Array(R * T);
  for (let i = 0; i < R; i++) {
    const m = (t: number) => mask[i * T + t] !== 0;
    let L = 0;
    for (let t = 0; t < T; t++) if (m(t)) L = t + 1;
    const S = new Float64Array(T + 1);
    for (let t = T - 1; t >= 0; t--) S[t] = S[t + 1] + (m(t) ? old[i * T + t] - ref[i * T + t] : 0);
    const isEnd = (t: number) => (mode === 'token' ? m(t) : t === L - 1 || (t < L && stepEnds![i * T + t] !== 0));
    for (let t = 0; t < L; t++) {
      if (!m(t)) continue;
      let e = t;
      while (!isEnd(e)) e++;
      A[i * T + t] = outcome[i] - (nextStep ? S[e + 1] : S[e]) / eta;
    }
  }
  return A;
}

/** |terms| an output is computed from (for close.ts's scale): |Â| + Σ|d|/η over the row. */
export function prlScale(outcome: ArrayLike<number>, old: ArrayLike<number>, ref: ArrayLike<number>, R: number, T: number, eta: number): Float64Array {
  const scale = new Float64Array(R * T);
  for (let i = 0; i < R; i++) {
    let sum = 0;
    for (let t = 0; t < T; t++) sum += Math.abs(old[i * T + t] - ref[i * T + t]);
    scale.fill(Math.abs(outcome[i]) + sum / eta, i * T, (i + 1) * T);
  }
  return scale;
}
