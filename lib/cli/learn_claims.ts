// learn_claims.ts: the seed claims `steprl learn` checks, per task, from its own cells (issue 16):
// (a) PRPO over GRPO with a PRM, (b) PRL's pass@n over GRPO's at large n (not only avg@n),
// (c) PSPO's nonlinear (Weibull) shaping over linear shaping, (d) PRM over ORM in best-of-N at the
// SFT start. Each row is a paired difference with its 95% t interval (over the seeds both cells
// share, as the table's differences against GRPO; for best-of-N over the held-out problems) and a
// verdict: held (the interval excludes 0 in the claim's favour), reversed (excludes 0 against it),
// not shown (contains 0, or one pair: no interval), not run (a cell or the best-of-N is missing).
import { pairedInterval, type Interval } from '../optim/stats';
import type { BestOfNSummary } from './learn_bestofn';
import type { CellResult } from './learn_summary';

export type Verdict = 'held' | 'reversed' | 'not shown' | 'not run';

export interface ClaimRow {
  /** 'a' .. 'd' as above. */
  claim: string;
  title: string;
  /** What is compared, e.g. 'avg@8', 'pass@64', 'best-of-8 accuracy'. */
  measure: string;
  /** The difference is a − b (both algorithm names, or selector names for best-of-N). */
  a: string;
  b: string;
  /** What the interval is over. */
  over: 'seeds' | 'problems';
  /** null when not run. */
  diff: Interval | null;
  verdict: Verdict;
}

/** The verdict of a difference whose claim is that it is positive. */
export function verdictOf(diff: Interval | null): Verdict {
  if (!diff || diff.n === 0 || !Number.isFinite(diff.mean)) return 'not run';
  if (!Number.isFinite(diff.half)) return 'not shown';
  if (diff.low > 0) return 'held';
  if (diff.high < 0) return 'reversed';
  return 'not shown';
}

/** a − b over the seeds where both algorithms have a cell (null when none). */
export function pairedOverSeeds(cells: readonly CellResult[], a: string, b: string, pick: (c: CellResult) => number): Interval | null {
  const bySeed = new Map(cells.filter((c) => c.algo === b).map((c) => [c.seed, c]));
  const mine = cells.filter((c) => c.algo === a && bySeed.has(c.seed)).sort((x, y) => x.seed - y.seed);
  if (mine.length === 0) return null;
  return pairedInterval(mine.map(pick), mine.map((c) => pick(bySeed.get(c.seed)!)));
}

const TITLES: Record<string, string> = {
  a: 'PRPO over GRPO (with a PRM)',
  b: 'PRL widens pass@n over GRPO',
  c: 'PSPO nonlinear (Weibull) over linear shaping',
  d: 'PRM over ORM in best-of-N (SFT start)',
};

/** The claims rows of one task from its cells and its best-of-N (n = held-out samples per problem). */
export function taskClaims(cells: readonly CellResult[], bestOf: BestOfNSummary | undefined, n: number): ClaimRow[] {
  const rows: ClaimRow[] = [];
  const seedRow = (claim: string, a: string, b: string, measure: string, pick: (c: CellResult) => number) => {
    const diff = pairedOverSeeds(cells, a, b, pick);
    rows.push({ claim, title: TITLES[claim], measure, a, b, over: 'seeds', diff, verdict: verdictOf(diff) });
  };
  const pass = (k: number) => (c: CellResult) => c.passAtK[k];
  seedRow('a', 'prpo', 'grpo', 'avg@8', (c) => c.avg8);
  seedRow('a', 'prpo', 'grpo', 'pass@8', pass(8));
  for (const k of [...new Set([1, 8, n])]) seedRow('b', 'prl', 'grpo', `pass@${k}`, pass(k));
  seedRow('c', 'pspo', 'pspo-linear', 'avg@8', (c) => c.avg8);
  seedRow('c', 'pspo', 'pspo-linear', 'pass@8', pass(8));
  for (const N of [...new Set([8, n])]) {
    const diff = bestOf?.prmMinusOrm[N] ?? null;
    rows.push({ claim: 'd', title: TITLES.d, measure: `best-of-${N} accuracy`, a: 'prm', b: 'orm', over: 'problems', diff, verdict: verdictOf(diff) });
  }
  return rows;
}

const points = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;

/** The claims as Markdown lines (a table), differences in percentage points. */
export function claimsMarkdown(rows: readonly ClaimRow[]): string[] {
  const lines = ['### Claims', '', '| claim | measure | difference | difference, points | 95% interval, points | n | verdict |', '|---|---|---|---:|---:|---:|---|'];
  for (const r of rows) {
    const d = r.diff;
    const interval = d && Number.isFinite(d.half) ? `[${points(d.low)}, ${points(d.high)}]` : d ? 'n/a' : '—';
    lines.push(`| (${r.claim}) ${r.title} | ${r.measure} | ${r.a} − ${r.b} | ${d ? points(d.mean) : '—'} | ${interval} | ${d ? `${d.n} ${r.over}` : '—'} | **${r.verdict}** |`);
  }
  lines.push('', 'held: the 95% interval excludes 0 in the claim\'s favour; reversed: it excludes 0 against it; not shown: it contains 0 (or one pair, no interval); not run: a cell is missing. ' +
    'Paired over the seeds both algorithms ran (same seed, same held-out problems); best-of-N over the held-out problems.', '');
  return lines;
}
