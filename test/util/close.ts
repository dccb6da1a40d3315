// close.ts: element-wise comparison against float64 references, with a report of the worst
// element when it fails. |actual - expected| <= atol + rtol * max(|expected|, scale[i]); equal
// infinities and NaN-for-NaN count as equal. `scale` is the magnitude of the terms an output is
// computed from (the reference supplies it): where terms cancel, float32 can only be accurate
// relative to them, not to their small difference.
export interface Tolerance {
  rtol?: number;
  atol?: number;
  scale?: ArrayLike<number>;
}

export function worstMismatch(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance = {}): string | null {
  const rtol = tol.rtol ?? 2e-5, atol = tol.atol ?? 1e-6;
  if (actual.length !== expected.length) return `length ${actual.length} != expected ${expected.length}`;
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e) ? Number.isNaN(a) : a === e) continue;
    const magnitude = tol.scale ? Math.max(Math.abs(e), tol.scale[i]) : Math.abs(e);
    const excess = Math.abs(a - e) - (atol + rtol * magnitude);
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst < 0) return null;
  return `element ${worst}: actual ${actual[worst]} vs expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`;
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance = {}): void {
  const mismatch = worstMismatch(actual, expected, tol);
  if (mismatch !== null) throw new Error(`arrays differ: ${mismatch}`);
}
