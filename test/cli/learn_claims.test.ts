// learn_claims.test.ts: the claims section of `steprl learn` on synthetic tables: the verdict of a
// paired difference (held / reversed / not shown / not run), pairing over the seeds both algorithms
// share, partial tables (missing algorithms, one seed, no best-of-N) that never throw, the Markdown;
// and best-of-N over the disjoint groups of N samples per problem.
import { claimsMarkdown, pairedOverSeeds, taskClaims, verdictOf } from '../../lib/cli/learn_claims';
import type { BestOfNSummary } from '../../lib/cli/learn_bestofn';
import type { CellResult } from '../../lib/cli/learn_summary';
import { bestOfNPerProblem, type Samples } from '../../lib/optim/evaluate';
import { meanInterval, pairedInterval } from '../../lib/optim/stats';

/** A cell with avg@8 = pass@1 = `acc` and pass@k rising with k by `widen` per doubling. */
function cell(algo: string, seed: number, acc: number, widen = 0.05): CellResult {
  const passAtK: Record<number, number> = {};
  for (let k = 1; k <= 16; k++) passAtK[k] = Math.min(1, acc + widen * Math.log2(k));
  return { task: 't', algo, seed, settings: {}, avg8: acc, passAtK, meanLength: 10, tokensTrained: 1, rollouts: 1, seconds: { train: 1, eval: 1 }, curve: [] };
}

test('verdict: held / reversed / not shown / not run', () => {
  expect(verdictOf(pairedInterval([0.6, 0.62, 0.61], [0.5, 0.5, 0.5]))).toBe('held');
  expect(verdictOf(pairedInterval([0.4, 0.42, 0.41], [0.5, 0.5, 0.5]))).toBe('reversed');
  expect(verdictOf(pairedInterval([0.6, 0.4, 0.55], [0.5, 0.5, 0.5]))).toBe('not shown');
  // Equal everywhere: the interval is [0, 0], which does not exclude 0.
  expect(verdictOf(pairedInterval([0.5, 0.5], [0.5, 0.5]))).toBe('not shown');
  // One pair: a difference but no interval.
  expect(verdictOf(pairedInterval([0.9], [0.1]))).toBe('not shown');
  expect(verdictOf(null)).toBe('not run');
  expect(verdictOf(meanInterval([]))).toBe('not run');
});

test('pairing uses only the seeds both algorithms have', () => {
  const cells = [cell('grpo', 0, 0.5), cell('grpo', 1, 0.5), cell('grpo', 2, 0.5), cell('prpo', 1, 0.7), cell('prpo', 2, 0.6), cell('prpo', 3, 0.1)];
  const d = pairedOverSeeds(cells, 'prpo', 'grpo', (c) => c.avg8)!;
  expect(d.n).toBe(2);
  expect(d.mean).toBeCloseTo(0.15, 12);
  expect(pairedOverSeeds(cells, 'prl', 'grpo', (c) => c.avg8)).toBeNull();
});

test('claims of a full synthetic table: each claim its rows, intervals and verdicts', () => {
  const seeds = [0, 1, 2, 3, 4];
  const cells = seeds.flatMap((s) => [
    cell('grpo', s, 0.5 + 0.01 * s),
    cell('prpo', s, 0.55 + 0.01 * s + 0.002 * (s % 2)),  // +5 points on every seed: held
    cell('prl', s, 0.5 + 0.01 * s + (s % 2 ? 0.01 : -0.01), 0.08),  // avg@n unchanged, pass@n wider: held at 16 only
    cell('pspo', s, 0.4 + 0.01 * s),
    cell('pspo-linear', s, 0.45 + 0.01 * s + 0.001 * s),  // linear shaping better: reversed
  ]);
  const bestOf = { prmMinusOrm: { 8: pairedInterval([0.2, 0.3, 0.25], [0.1, 0.1, 0.1]), 16: pairedInterval([0.2, 0.1, 0.3], [0.2, 0.2, 0.2]) } } as unknown as BestOfNSummary;
  const rows = taskClaims(cells, bestOf, 16);
  const by = (claim: string, measure: string) => rows.find((r) => r.claim === claim && r.measure === measure)!;
  expect(rows.map((r) => `${r.claim} ${r.measure}`)).toEqual(['a avg@8', 'a pass@8', 'b pass@1', 'b pass@8', 'b pass@16', 'c avg@8', 'c pass@8', 'd best-of-8 accuracy', 'd best-of-16 accuracy']);
  expect(by('a', 'avg@8')).toMatchObject({ a: 'prpo', b: 'grpo', over: 'seeds', verdict: 'held' });
  expect(by('a', 'avg@8').diff!.n).toBe(5);
  expect(by('b', 'pass@1').verdict).toBe('not shown');
  expect(by('b', 'pass@16').verdict).toBe('held');
  expect(by('b', 'pass@16').diff!.mean).toBeGreaterThan(0);
  expect(by('c', 'avg@8')).toMatchObject({ a: 'pspo', b: 'pspo-linear', verdict: 'reversed' });
  expect(by('d', 'best-of-8 accuracy')).toMatchObject({ over: 'problems', verdict: 'held' });
  expect(by('d', 'best-of-16 accuracy').verdict).toBe('not shown');
  const md = claimsMarkdown(rows).join('\n');
  expect(md).toContain('| (a) PRPO over GRPO (with a PRM) | avg@8 | prpo − grpo | +5.');
  expect(md).toMatch(/\| \(c\) PSPO nonlinear \(Weibull\) over linear shaping \| avg@8 \| pspo − pspo-linear \| -5\.\d \| \[-\d+\.\d, -\d+\.\d\] \| 5 seeds \| \*\*reversed\*\* \|/);
});

test('partial tables: missing algorithms and best-of-N are "not run", one seed is "not shown", nothing throws', () => {
  expect(taskClaims([], undefined, 64).every((r) => r.verdict === 'not run' && r.diff === null)).toBe(true);
  const rows = taskClaims([cell('grpo', 0, 0.5), cell('prpo', 0, 0.9), cell('pspo', 0, 0.5)], undefined, 16);
  expect(rows.find((r) => r.claim === 'a')!.verdict).toBe('not shown');
  expect(rows.find((r) => r.claim === 'a')!.diff!.n).toBe(1);
  for (const claim of ['b', 'c', 'd']) expect(rows.filter((r) => r.claim === claim).every((r) => r.verdict === 'not run')).toBe(true);
  const md = claimsMarkdown(rows).join('\n');
  expect(md).toContain('| n/a | 1 seeds | **not shown** |');
  expect(md).toContain('| — | — | — | **not run** |');
});

test('best-of-N per problem averages over the disjoint groups of N samples', () => {
  // One problem, 4 samples: correct at 1 and 2; the PRM prefers 0 over 1 and 2 over 3, the ORM the reverse.
  const samples = {
    problems: [{ prompt: 'p', answer: '7' }], texts: [['a', 'b', 'c', 'd']], correct: [[false, true, true, false]], answers: [['3', '7', '7', '5']],
  } as unknown as Samples;
  const scores = [[{ prm: 0.9, orm: 0.1 }, { prm: 0.2, orm: 0.8 }, { prm: 0.9, orm: 0.1 }, { prm: 0.2, orm: 0.8 }]];
  const r = bestOfNPerProblem(samples, scores, [1, 2, 4]);
  expect(r.prm[1]).toEqual([0.5]);  // each sample alone: 2 of 4 correct
  expect(r.prm[2]).toEqual([0.5]);  // groups {0,1} → 0 wrong, {2,3} → 2 right
  expect(r.orm[2]).toEqual([0.5]);  // {0,1} → 1 right, {2,3} → 3 wrong
  expect(r.prm[4]).toEqual([0]);  // ties at 0.9 go to the lowest index: 0
  expect(r.orm[4]).toEqual([1]);  // 0.8 first at 1
  expect(r.majority[4]).toEqual([1]);
  expect(r.majority[1]).toEqual([0.5]);
  expect(() => bestOfNPerProblem(samples, scores, [8])).toThrow(RangeError);
});

test('best-of-N claims use N = 8 and the largest N measured', () => {
  const bestOf = { sizes: [1, 2, 4, 8, 16, 32, 48], prmMinusOrm: { 8: pairedInterval([0.2, 0.3], [0.1, 0.1]), 48: pairedInterval([0.3, 0.4], [0.1, 0.1]) } } as unknown as BestOfNSummary;
  const rows = taskClaims([], bestOf, 48).filter((r) => r.claim === 'd');
  expect(rows.map((r) => r.measure)).toEqual(['best-of-8 accuracy', 'best-of-48 accuracy']);
  expect(rows.every((r) => r.diff !== null)).toBe(true);
});
