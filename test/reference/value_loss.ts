// reference/value_loss.ts: float64 plain loops, the executable spec of valueLoss (ALGORITHMS.md
// §1.8): per token whose mask is nonzero, with V = values[r, offset + t], Vold, G,
//   l = ½·max((V − G)², (clamp(V, Vold − c, Vold + c) − G)²), loss = Σ coef·l / tokenCount (rows in
//   order, t ascending), dV = coef·(V − G)/tokenCount when the unclipped term is the max, else 0.
import type { Rng } from '../util/random';

export interface ValueLossCase {
  values: Float32Array;     // [R, W]
  oldValues: Float32Array;  // [R, T]
  returns: Float32Array;    // [R, T]
  mask: Float32Array;       // [R, T]
  R: number; T: number; W: number; offset: number;
}

export function valueLossReference(c: ValueLossCase, clip: number, coef: number, tokenCount: number): { loss: number; dvalues: Float64Array } {
  const dvalues = new Float64Array(c.R * c.W);
  let loss = 0;
  for (let r = 0; r < c.R; r++) {
    for (let t = 0; t < c.T; t++) {
      if (c.mask[r * c.T + t] === 0) continue;
      const v = c.values[r * c.W + c.offset + t], old = c.oldValues[r * c.T + t], g = c.returns[r * c.T + t];
      const vc = Math.min(Math.max(v, old - clip), old + clip);
      const plain = (v - g) * (v - g), clipped = (vc - g) * (vc - g);
      loss += (coef * 0.5 * Math.max(plain, clipped)) / tokenCount;
      dvalues[r * c.W + c.offset + t] = plain >= clipped ? (coef * (v - g)) / tokenCount : 0;
    }
  }
  return { loss, dvalues };
}

/** Values near their targets and rollout values so that both branches (and ties) occur; ragged masks. */
export function makeValueLossCase(rng: Rng, R: number, T: number, W: number, offset: number): ValueLossCase {
  const values = rng.floats(R * W), oldValues = new Float32Array(R * T), returns = new Float32Array(R * T), mask = new Float32Array(R * T);
  for (let r = 0; r < R; r++) {
    const length = rng.int(0, T + 1);
    for (let t = 0; t < T; t++) {
      const i = r * T + t, v = values[r * W + offset + t];
      oldValues[i] = v + rng.normal() * 0.3;
      returns[i] = t % 7 === 3 ? v : v + rng.normal() * 0.5;  // some exact ties: V = G
      mask[i] = t < length ? 1 : 0;
    }
  }
  return { values, oldValues, returns, mask, R, T, W, offset };
}
