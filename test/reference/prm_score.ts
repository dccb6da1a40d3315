// reference/prm_score.ts: float64 plain loops, the executable spec of prmScore (ALGORITHMS.md §2):
// product Π max(p, 1e-12) (as exp Σ log), geomean exp(mean log max(p, 1e-12)), min, last; K = 0 → NaN.
export type PrmAggregate = 'product' | 'min' | 'geomean' | 'last';

export function prmScoreReference(stepScores: ArrayLike<number>, stepOffsets: ArrayLike<number>, aggregate: PrmAggregate = 'product'): Float64Array {
  const R = stepOffsets.length - 1;
  const out = new Float64Array(R);
  for (let i = 0; i < R; i++) {
    const p = Array.from({ length: stepOffsets[i + 1] - stepOffsets[i] }, (_, k) => stepScores[stepOffsets[i] + k]);
    if (p.length === 0) { out[i] = NaN; continue; }
    const logs = p.map((x) => Math.log(Math.max(x, 1e-12)));
    const logSum = logs.reduce((a, b) => a + b, 0);
    out[i] = aggregate === 'min' ? Math.min(...p) : aggregate === 'last' ? p[p.length - 1]
      : aggregate === 'geomean' ? Math.exp(logSum / p.length) : Math.exp(logSum);
  }
  return out;
}
