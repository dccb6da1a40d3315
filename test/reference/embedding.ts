// reference/embedding.ts: float64 plain loops, the executable spec of embedding / embeddingBackward.
export function embeddingReference(tokens: ArrayLike<number>, table: ArrayLike<number>, N: number, C: number): Float64Array {
  const out = new Float64Array(N * C);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) out[n * C + c] = table[tokens[n] * C + c];
  return out;
}

/** dtable = Σ over rows with token v of dout (not accumulated), and the magnitude Σ|dout|. */
export function embeddingBackwardReference(dout: ArrayLike<number>, tokens: ArrayLike<number>, N: number, C: number, V: number) {
  const dtable = new Float64Array(V * C), scale = new Float64Array(V * C);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      dtable[tokens[n] * C + c] += dout[n * C + c];
      scale[tokens[n] * C + c] += Math.abs(dout[n * C + c]);
    }
  return { dtable, scale };
}
