// learn_bestofn.ts: best-of-N at a task's SFT start for `steprl learn` (claim (d) of learn_claims.ts):
// the start's held-out samples (evalN per problem, the draw its evaluation used, cached in
// <task>/start-samples.json under the start's key) are scored by the rule-based PRM the cells use
// (createPrm(task, prmNoise, seed), one per seed of the run), and one answer per problem is picked
// from each disjoint group of N samples by the PRM's solution score (product of step scores), an ORM
// (the last step's score alone) and majority vote. PRM − ORM is paired over the held-out problems:
// per problem, the hit rates averaged over the groups and the PRM noise seeds; the problem is the
// independent unit (the samples and PRM noise vary within it). Cached in <task>/best-of-n.json.
import * as path from 'node:path';

import { TinyLM } from '../model/tinylm';
import { accuracy, bestOfNPerProblem, type Samples, type Selector, solutionScores } from '../optim/evaluate';
import { meanInterval, pairedInterval, type Interval } from '../optim/stats';
import type { Task } from '../tasks/task';
import { writeFileAtomic } from '../util/atomic';
import { cpuSecondsSince, drawEvalSamples } from './learn_cell';
import { readJson, same } from './learn_files';
import type { Budget } from './learn_summary';
import { createPrm } from './setup';

export interface BestOfNSummary {
  /** N = 1, 2, 4, ... up to the samples per problem n, and n itself. */
  sizes: number[];
  problems: number;
  samplesPerProblem: number;
  prmNoise: number;
  /** The PRM noise seeds (the run's seeds: the PRMs its cells use). */
  noiseSeeds: number[];
  /** Accuracy of each selector, mean over problems, groups and noise seeds. */
  accuracy: Record<Selector, Record<number, number>>;
  /** PRM − ORM accuracy per N, paired over the problems. */
  prmMinusOrm: Record<number, Interval>;
  /** Whether the samples' mean correctness equals the start's avg@8 (the same samples as its evaluation). */
  sameAsStart: boolean;
  /** CPU seconds of drawing the samples (0 when they were kept from the start's evaluation) and of scoring them. */
  cpuSeconds: { sampling: number; scoring: number };
}

type Kept = Pick<Samples, 'texts' | 'correct' | 'answers'>;

/** Writes the start's evaluation samples beside start.json (what best-of-N reads later). */
export function keepStartSamples(taskDir: string, settings: unknown, samples: Samples): void {
  const kept: Kept & { settings: unknown } = { settings, texts: samples.texts, correct: samples.correct, answers: samples.answers };
  writeFileAtomic(path.join(taskDir, 'start-samples.json'), JSON.stringify(kept) + '\n');
}

export interface BestOfNInputs {
  task: Task;
  taskName: string;
  taskDir: string;
  sftDir: string;
  device: 'cpu' | 'cuda';
  budget: Budget;
  maxNewTokens: number;
  /** The start's key (start.json's settings): the samples are reused while it holds. */
  startSettings: unknown;
  startAvg8: number;
  seeds: readonly number[];
}

export async function startBestOfN(b: BestOfNInputs): Promise<BestOfNSummary> {
  const sizes: number[] = [];
  for (let N = 1; N <= b.budget.evalN; N *= 2) sizes.push(N);
  if (sizes[sizes.length - 1] !== b.budget.evalN) sizes.push(b.budget.evalN);  // n itself: one group
  const key = { start: b.startSettings, prmNoise: b.budget.prmNoise, noiseSeeds: b.seeds, sizes };
  const resultFile = path.join(b.taskDir, 'best-of-n.json');
  const cached = readJson<{ key: unknown; summary: BestOfNSummary }>(resultFile);
  if (cached && same(cached.key, key)) return cached.summary;

  const problems = b.task.problems('test', b.budget.evalProblems, 0);
  let kept = readJson<Kept & { settings: unknown }>(path.join(b.taskDir, 'start-samples.json'));
  let sampling = 0;
  if (!kept || !same(kept.settings, b.startSettings)) {
    // The start was evaluated before its samples were kept: draw them again, as its evaluation did.
    process.stderr.write(`learn [${b.taskName}]: drawing the SFT start's held-out samples for best-of-N (${problems.length} problems x ${b.budget.evalN})\n`);
    const cpu = process.cpuUsage();
    const model = TinyLM.load(b.sftDir, { device: b.device });
    const samples = await drawEvalSamples(model, b.task, b.budget, b.maxNewTokens, 0);
    model.dispose();
    keepStartSamples(b.taskDir, b.startSettings, samples);
    kept = { settings: b.startSettings, texts: samples.texts, correct: samples.correct, answers: samples.answers };
    sampling = cpuSecondsSince(cpu);
  }
  const samples: Samples = { problems, texts: kept.texts, correct: kept.correct, answers: kept.answers };
  const cpu = process.cpuUsage();
  // Per noise seed, per selector and N, the per-problem hit rates; then averaged over the seeds.
  const perSeed: ReturnType<typeof bestOfNPerProblem>[] = [];
  for (const seed of b.seeds) {
    const prm = createPrm(b.task, b.budget.prmNoise, seed);
    prm.register(problems as never[]);
    perSeed.push(bestOfNPerProblem(samples, await solutionScores(samples, prm), sizes));
  }
  const perProblem = (sel: Selector, N: number) => problems.map((_, i) => perSeed.reduce((a, r) => a + r[sel][N][i], 0) / perSeed.length);
  const result: BestOfNSummary = {
    sizes, problems: problems.length, samplesPerProblem: b.budget.evalN, prmNoise: b.budget.prmNoise, noiseSeeds: [...b.seeds],
    accuracy: { prm: {}, orm: {}, majority: {} }, prmMinusOrm: {},
    sameAsStart: accuracy(samples).avg === b.startAvg8,
    cpuSeconds: { sampling, scoring: 0 },
  };
  for (const N of sizes) {
    for (const sel of ['prm', 'orm', 'majority'] as const) result.accuracy[sel][N] = meanInterval(perProblem(sel, N)).mean;
    result.prmMinusOrm[N] = pairedInterval(perProblem('prm', N), perProblem('orm', N));
  }
  result.cpuSeconds.scoring = cpuSecondsSince(cpu);
  writeFileAtomic(resultFile, JSON.stringify({ key, summary: result }, null, 2) + '\n');
  return result;
}

const pct = (x: number) => (100 * x).toFixed(1);

/** The best-of-N table as Markdown lines (`passAtK`: the start's unbiased pass@N, the ceiling). */
export function bestOfNMarkdown(b: BestOfNSummary, passAtK: Record<number, number>): string[] {
  const source = !b.sameAsStart ? 'drawn again: NOT the start\'s evaluation draw (their mean correctness differs)'
    : b.cpuSeconds.sampling > 0 ? 'the start\'s evaluation draw, drawn again with its seed: the same mean correctness' : 'the start\'s evaluation samples';
  const lines = [
    '### Best-of-N at the SFT start', '',
    `${b.problems} held-out problems × ${b.samplesPerProblem} samples (${source}); ` +
    `rule PRM with ${b.prmNoise} label noise, averaged over noise seeds ${b.noiseSeeds.join(', ')}; for N < ${b.samplesPerProblem} the mean over the disjoint groups of N samples. ` +
    `PRM: product of step scores; ORM: the last step's score; PRM − ORM paired over the problems. CPU: ${b.cpuSeconds.sampling.toFixed(0)} s sampling + ${b.cpuSeconds.scoring.toFixed(1)} s scoring.`, '',
    '| N | PRM % | ORM % | majority % | pass@N % | PRM − ORM, points (95%) |', '|---:|---:|---:|---:|---:|---:|',
  ];
  for (const N of b.sizes) {
    const d = b.prmMinusOrm[N];
    lines.push(`| ${N} | ${pct(b.accuracy.prm[N])} | ${pct(b.accuracy.orm[N])} | ${pct(b.accuracy.majority[N])} | ${passAtK[N] !== undefined ? pct(passAtK[N]) : '—'} | ` +
      `${d.mean >= 0 ? '+' : ''}${pct(d.mean)} ${Number.isFinite(d.half) ? `± ${pct(d.half)}` : '(n/a)'} |`);
  }
  lines.push('');
  return lines;
}
