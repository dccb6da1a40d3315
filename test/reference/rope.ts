// reference/rope.ts: the executable spec of rope / ropeBackward: Hugging Face's rotate_half
// rotation (pairs i, i + D/2) with HF's fp32 angle arithmetic replayed through Math.fround —
// inv_freq = fp32(1 / fp32(theta^fp32(2i/D))), angle = fp32(position · inv_freq) — since at large
// positions the fp32 angle differs from the exact one by far more than any tolerance (the model
// must match HF checkpoints, not exact math). cos/sin and the rotation are float64.
export function ropeAngles(position: number, D: number, theta: number): Float64Array {
  const angles = new Float64Array(D / 2);
  const base = Math.fround(theta);
  for (let i = 0; i < D / 2; i++) {
    const exponent = Math.fround(Math.fround(2 * i) / Math.fround(D));
    const invFreq = Math.fround(1 / Math.fround(Math.pow(base, exponent)));
    angles[i] = Math.fround(Math.fround(position) * invFreq);
  }
  return angles;
}

/** Rotation of every head of every row by +angle (sign 1, forward) or −angle (sign −1, backward). */
export function ropeReference(inp: ArrayLike<number>, positions: ArrayLike<number>, N: number, heads: number, D: number,
  theta: number, sign = 1): Float64Array {
  const out = new Float64Array(N * heads * D), half = D / 2;
  for (let n = 0; n < N; n++) {
    const angles = ropeAngles(positions[n], D, theta);
    for (let h = 0; h < heads; h++) {
      const base = (n * heads + h) * D;
      for (let i = 0; i < half; i++) {
        const c = Math.cos(angles[i]), s = sign * Math.sin(angles[i]);
        const x1 = inp[base + i], x2 = inp[base + half + i];
        out[base + i] = x1 * c - x2 * s;
        out[base + half + i] = x2 * c + x1 * s;
      }
    }
  }
  return out;
}

/** Magnitude of the terms of each output: |x1 c| + |x2 s| (for cancellation-aware tolerances). */
export function ropeScale(inp: ArrayLike<number>, positions: ArrayLike<number>, N: number, heads: number, D: number,
  theta: number): Float64Array {
  const scale = new Float64Array(N * heads * D), half = D / 2;
  for (let n = 0; n < N; n++) {
    const angles = ropeAngles(positions[n], D, theta);
    for (let h = 0; h < heads; h++) {
      const base = (n * heads + h) * D;
      for (let i = 0; i < half; i++) {
        const c = Math.abs(Math.cos(angles[i])), s = Math.abs(Math.sin(angles[i]));
        const x1 = Math.abs(inp[base + i]), x2 = Math.abs(inp[base + half + i]);
        scale[base + i] = x1 * c + x2 * s;
        scale[base + half + i] = x2 * c + x1 * s;
      }
    }
  }
  return scale;
}
