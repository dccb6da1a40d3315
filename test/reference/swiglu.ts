// reference/swiglu.ts: float64 plain loops, the executable spec of swiglu / swigluBackward
// (HF LlamaMLP's act_fn(gate) * up with act_fn = SiLU, on inp = [gate | up] of shape [N, 2F]).
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export function swigluReference(inp: ArrayLike<number>, N: number, F: number): Float64Array {
  const out = new Float64Array(N * F);
  for (let n = 0; n < N; n++)
    for (let f = 0; f < F; f++) {
      const g = inp[n * 2 * F + f], u = inp[n * 2 * F + F + f];
      out[n * F + f] = g * sigmoid(g) * u;
    }
  return out;
}

/**
 * dinp = [dgate | dup], and the magnitude of dgate's terms: silu' = s(1 + g(1 - s)) crosses zero
 * near g = -1.28, where float32 can only be accurate relative to |s| (1 + |g(1 - s)|).
 */
export function swigluBackwardReference(dout: ArrayLike<number>, inp: ArrayLike<number>, N: number, F: number) {
  const dinp = new Float64Array(N * 2 * F), scale = new Float64Array(N * 2 * F);
  for (let n = 0; n < N; n++)
    for (let f = 0; f < F; f++) {
      const g = inp[n * 2 * F + f], u = inp[n * 2 * F + F + f], d = dout[n * F + f], s = sigmoid(g);
      dinp[n * 2 * F + f] = d * u * s * (1 + g * (1 - s));
      scale[n * 2 * F + f] = Math.abs(d * u * s) * (1 + Math.abs(g * (1 - s)));
      dinp[n * 2 * F + F + f] = d * g * s;
      scale[n * 2 * F + F + f] = Math.abs(d * g * s);
    }
  return { dinp, scale };
}
