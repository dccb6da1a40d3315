// reference/entropy_segments.ts: plain loops, the executable spec of entropySegments
// (ALGORITHMS.md §5.2). Valid tokens (m = 1) of a row; fewer than K + 1 → one segment. Otherwise
// every valid position sorted by (entropy desc, index asc), the first K taken and sorted by
// position; cuts: last = 0, a cut at each anchor a with a − last ≥ minGap. compat transcribes the
// reference's loop (srpocode naive2.py entropy_segmentation) before the same cut loop.
// id(t) = #cuts ≤ t on valid tokens, −1 elsewhere.
export interface EntropySegmentsReferenceOptions {
  maxBranches?: number;
  minGap?: number;
  compat?: boolean;
}

export function referenceCuts(anchors: number[], minGap: number, compat: boolean): number[] {
  let kept = anchors;
  if (compat) {
    kept = [];
    for (let i = 0; i < anchors.length - 1; i++) {
      let j = i + 1;
      if (anchors[j] - anchors[i] > minGap) kept.push(anchors[i]);
      else {
        while (j < anchors.length && anchors[j] - anchors[i] <= minGap) j += 1;
        if (j < anchors.length) kept.push(anchors[j]);
      }
    }
  }
  const cuts: number[] = [];
  let last = 0;
  for (const a of kept)
    if (a - last >= minGap) {
      cuts.push(a);
      last = a;
    }
  return cuts;
}

export function entropySegmentsReference(
  entropy: ArrayLike<number>, mask: ArrayLike<number>, R: number, T: number, o: EntropySegmentsReferenceOptions = {},
): Int32Array {
  const K = o.maxBranches ?? 5, minGap = o.minGap ?? 10;
  const out = new Int32Array(R * T).fill(-1);
  for (let i = 0; i < R; i++) {
    const valid: number[] = [];
    for (let t = 0; t < T; t++) if (mask[i * T + t] !== 0) valid.push(t);
    let cuts: number[] = [];
    if (valid.length >= K + 1) {
      const H = (t: number) => entropy[i * T + t];
      const ranked = [...valid].sort((a, b) => (H(b) - H(a)) || (a - b));
      cuts = referenceCuts(ranked.slice(0, K).sort((a, b) => a - b), minGap, o.compat ?? false);
    }
    for (const t of valid) out[i * T + t] = cuts.filter((c) => c <= t).length;
  }
  return out;
}
