// reference/rmsnorm.ts: float64 plain loops, the executable spec of rmsnorm / rmsnormBackward
// (HF LlamaRMSNorm): rstd = 1/sqrt(mean(x²) + eps), y = x·rstd·w, and its exact gradient.
export function rmsnormReference(inp: ArrayLike<number>, weight: ArrayLike<number>, N: number, C: number, eps: number) {
  const out = new Float64Array(N * C), rstd = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let sum = 0;
    for (let c = 0; c < C; c++) sum += inp[n * C + c] ** 2;
    const r = 1 / Math.sqrt(sum / C + eps);
    rstd[n] = r;
    for (let c = 0; c < C; c++) out[n * C + c] = inp[n * C + c] * r * weight[c];
  }
  return { out, rstd };
}

/** dinp, dweight (not accumulated) and the magnitudes of the terms each sums. */
export function rmsnormBackwardReference(dout: ArrayLike<number>, inp: ArrayLike<number>, weight: ArrayLike<number>,
  N: number, C: number, eps: number) {
  const { rstd } = rmsnormReference(inp, weight, N, C, eps);
  const dinp = new Float64Array(N * C), dinpScale = new Float64Array(N * C);
  const dweight = new Float64Array(C), dweightScale = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const r = rstd[n];
    let dot = 0, dotScale = 0;
    for (let c = 0; c < C; c++) {
      dot += dout[n * C + c] * weight[c] * inp[n * C + c];
      dotScale += Math.abs(dout[n * C + c] * weight[c] * inp[n * C + c]);
    }
    for (let c = 0; c < C; c++) {
      const x = inp[n * C + c], g = dout[n * C + c];
      dinp[n * C + c] = r * weight[c] * g - (x * r ** 3 / C) * dot;
      dinpScale[n * C + c] = Math.abs(r * weight[c] * g) + Math.abs(x * r ** 3 / C) * dotScale;
      dweight[c] += g * x * r;
      dweightScale[c] += Math.abs(g * x * r);
    }
  }
  return { dinp, dinpScale, dweight, dweightScale };
}
