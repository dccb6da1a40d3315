// reference/matmul.ts: float64 plain loops, the executable spec of matmul / matmulBackward
// (PyTorch nn.Linear layout: weight [OC, C]). `scale` is the magnitude of the terms each output
// sums (Σ|a·b| + |bias| + |residual|), against which float32 accumulation is judged.
export function matmulReference(
  inp: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number> | null, residual: ArrayLike<number> | null,
  N: number, C: number, OC: number,
): { out: Float64Array; scale: Float64Array } {
  const out = new Float64Array(N * OC), scale = new Float64Array(N * OC);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < OC; o++) {
      let sum = 0, magnitude = 0;
      for (let c = 0; c < C; c++) {
        const term = inp[n * C + c] * weight[o * C + c];
        sum += term;
        magnitude += Math.abs(term);
      }
      if (bias) {
        sum += bias[o];
        magnitude += Math.abs(bias[o]);
      }
      if (residual) {
        sum += residual[n * OC + o];
        magnitude += Math.abs(residual[n * OC + o]);
      }
      out[n * OC + o] = sum;
      scale[n * OC + o] = magnitude;
    }
  return { out, scale };
}

/** dinp = dout·weight, dweight = doutᵀ·inp, dbias = Σ_n dout (not accumulated), with term magnitudes. */
export function matmulBackwardReference(dout: ArrayLike<number>, inp: ArrayLike<number>, weight: ArrayLike<number>,
  N: number, C: number, OC: number) {
  const dinp = new Float64Array(N * C), dinpScale = new Float64Array(N * C);
  const dweight = new Float64Array(OC * C), dweightScale = new Float64Array(OC * C);
  const dbias = new Float64Array(OC), dbiasScale = new Float64Array(OC);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < OC; o++) {
      const g = dout[n * OC + o];
      dbias[o] += g;
      dbiasScale[o] += Math.abs(g);
      for (let c = 0; c < C; c++) {
        dinp[n * C + c] += g * weight[o * C + c];
        dinpScale[n * C + c] += Math.abs(g * weight[o * C + c]);
        dweight[o * C + c] += g * inp[n * C + c];
        dweightScale[o * C + c] += Math.abs(g * inp[n * C + c]);
      }
    }
  return { dinp, dinpScale, dweight, dweightScale, dbias, dbiasScale };
}
