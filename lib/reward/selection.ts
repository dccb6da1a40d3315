// selection.ts: picking one answer out of N samples: best-of-N by a score (PRM or ORM; ties go to
// the lowest index) and majority voting over final answers (Lightman et al.; ALGORITHMS.md §2).

/** Index of the highest score (ties: the lowest index); -1 for no candidates. */
export function bestOfN(scores: readonly number[]): number {
  let best = -1;
  for (let i = 0; i < scores.length; i++) if (best < 0 || scores[i] > scores[best] || (Number.isNaN(scores[best]) && !Number.isNaN(scores[i]))) best = i;
  return best;
}

/** The most frequent non-null answer (ties: the one seen first); null when none. */
export function majorityVote(answers: readonly (string | null)[]): string | null {
  const counts = new Map<string, number>();
  let winner: string | null = null, top = 0;
  for (const a of answers) {
    if (a === null) continue;
    const n = (counts.get(a) ?? 0) + 1;
    counts.set(a, n);
    if (n > top) {
      top = n;
      winner = a;
    }
  }
  return winner;
}

/** Solution score of Lightman et al. from step scores: product (default), min, geomean or last. */
export function solutionScore(stepScores: readonly number[], aggregate: 'product' | 'min' | 'geomean' | 'last' = 'product'): number {
  if (stepScores.length === 0) return NaN;
  switch (aggregate) {
    case 'min': return Math.min(...stepScores);
    case 'last': return stepScores[stepScores.length - 1];
    case 'geomean': return Math.exp(stepScores.reduce((s, p) => s + Math.log(Math.max(p, 1e-12)), 0) / stepScores.length);
    default: return Math.exp(stepScores.reduce((s, p) => s + Math.log(Math.max(p, 1e-12)), 0));
  }
}
