// signal.ts: how large each process-supervised method's own term is next to the outcome advantage,
// per RL step (issue 16): a method whose own signal is ~0 against the outcome advantage is its
// outcome-only baseline in disguise (e.g. PRL with η far above the log-ratios it sees is GRPO).
//   PRL:          process = mean |S/η| over response tokens, outcome = mean |Â|
//   PRPO:         process = mean |z| (the PRM prior part), outcome = mean |β| (r_i − mean_g r)
//   PSPO:         process = mean within-group std of the shaped reward, outcome = that of the
//                 verifier's reward; also the spread of the unshaped s̄ and R's correlation with it
//   process-GRPO: process = mean |A| (step advantages), outcome = mean |Â| GRPO would give the same
//                 batch; also their token-level correlation
// `ratio` = process / outcome; NaN (null in JSON) when the outcome part is 0 (all groups uniform).
export interface SignalStats {
  process: number;
  outcome: number;
  ratio: number;
  /** Method-specific extra figures (names documented where each method fills them). */
  detail?: Record<string, number>;
}

export function signalStats(process: number, outcome: number, detail?: Record<string, number>): SignalStats {
  const ratio = outcome > 0 ? process / outcome : NaN;
  return detail ? { process, outcome, ratio, detail } : { process, outcome, ratio };
}

/** Mean over masked tokens of |x| for per-token [R*T] values. */
export function maskedAbsMean(values: ArrayLike<number>, mask: ArrayLike<number>): number {
  let sum = 0, n = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    sum += Math.abs(values[i]);
    n++;
  }
  return n > 0 ? sum / n : 0;
}

/** Mean over masked tokens of |a − perRow[row]|: the size of what a adds to a per-row term. */
export function maskedAbsResidual(values: ArrayLike<number>, perRow: ArrayLike<number>, mask: ArrayLike<number>, T: number): number {
  let sum = 0, n = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    sum += Math.abs(values[i] - perRow[Math.floor(i / T)]);
    n++;
  }
  return n > 0 ? sum / n : 0;
}

/** Mean over masked tokens of |perRow[row]|. */
export function maskedRowAbsMean(perRow: ArrayLike<number>, mask: ArrayLike<number>, T: number): number {
  let sum = 0, n = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    sum += Math.abs(perRow[Math.floor(i / T)]);
    n++;
  }
  return n > 0 ? sum / n : 0;
}

/** Mean over groups of the population std of a per-row value within the group. */
export function meanGroupStd(perRow: ArrayLike<number>, groupIds: ArrayLike<number>): number {
  const groups = new Map<number, number[]>();
  for (let r = 0; r < groupIds.length; r++) (groups.get(groupIds[r]) ?? groups.set(groupIds[r], []).get(groupIds[r])!).push(perRow[r]);
  let sum = 0;
  for (const xs of groups.values()) {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    sum += Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  }
  return groups.size > 0 ? sum / groups.size : 0;
}

/** Pearson correlation of two equally long series over the entries where `keep` is non-zero (0 when either is constant). */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>, keep?: ArrayLike<number>): number {
  let n = 0, sa = 0, sb = 0;
  for (let i = 0; i < a.length; i++) if (!keep || keep[i] !== 0) { n++; sa += a[i]; sb += b[i]; }
  if (n < 2) return 0;
  const ma = sa / n, mb = sb / n;
  let cab = 0, caa = 0, cbb = 0;
  for (let i = 0; i < a.length; i++) {
    if (keep && keep[i] === 0) continue;
    const da = a[i] - ma, db = b[i] - mb;
    cab += da * db;
    caa += da * da;
    cbb += db * db;
  }
  return caa > 0 && cbb > 0 ? cab / Math.sqrt(caa * cbb) : 0;
}

/**
 * Mean over response tokens of |S[i,t]|, S the inclusive suffix sum of the k1 log-ratio
 * ℓold − ℓref (what PRL divides by η), for per-token [R*T] log-probs; 0 without a reference.
 */
export function suffixLogRatioAbs(oldLogprobs: ArrayLike<number>, refLogprobs: ArrayLike<number> | undefined, mask: ArrayLike<number>, T: number): number {
  if (!refLogprobs) return 0;
  let sum = 0, n = 0;
  for (let r = 0; r * T < mask.length; r++) {
    let suffix = 0;
    for (let t = T - 1; t >= 0; t--) {
      const i = r * T + t;
      if (mask[i] === 0) continue;
      suffix += oldLogprobs[i] - refLogprobs[i];
      sum += Math.abs(suffix);
      n++;
    }
  }
  return n > 0 ? sum / n : 0;
}
