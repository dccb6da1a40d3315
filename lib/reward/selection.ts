// selection.ts: picking one answer out of N samples: best-of-N by a score (PRM or ORM; ties go to
// the lowest index) and majority voting over final answers (Lightman et al.; ALGORITHMS.md §2).
// Solution scores from step scores are ops.prmScore.

/** Index of the highest score (ties: the lowest index); -1 for no candidates. */
export function bestOfN(scores: readonly number[]): number {
  let best = -1;
  for (let i = 0; i < scores.length; i++) if (best < 0 || scores[i] > scores[best] || (Number.isNaN(scores[best]) && !Number.isNaN(scores[i]))) best = i;
  return best;
}

/** The most frequent non-null answer (ties: the one seen first); null when none. */
export function majorityVote(answers: readonly (string | null)[]): string | null {
  const counts = new Map<string, number>();
  for (const a of answers) if (a !== null) counts.set(a, (counts.get(a) ?? 0) + 1);
  let winner: string | null = null, top = 0;
  for (const [answer, n] of counts) if (n > top) {  // Map iterates in first-seen order
    top = n;
    winner = answer;
  }
  return winner;
}
