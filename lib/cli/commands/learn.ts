// learn.ts: `steprl learn` (what `npm run bench:learning` runs) — the learning benchmark of issue 16:
// every algorithm from the same SFT start per task, the same budget (steps × prompts × rollouts,
// the same response budget), over several seeds; per (task, algorithm, seed) cell the held-out
// avg@8 and unbiased pass@k (k = 1..n, n samples per problem on the same held-out problems for
// every cell), tokens trained, wall time, the learning curve and each method's own-signal size;
// then means with 95% t intervals over seeds and paired differences against GRPO (same seed, same
// problems). Finished cells are reused (a killed run resumes at the first unfinished cell).
// Writes results JSON, a Markdown table and an HTML report (learning curves with bands, pass@k).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { TinyLM } from '../../model/tinylm';
import { Trainer } from '../../optim/base';
import { accuracy, sampleResponses } from '../../optim/evaluate';
import type { StepMetrics } from '../../optim/metrics';
import { prlEta } from '../../optim/prl_eta';
import { meanInterval, pairedInterval, passAtKCurve, type Interval } from '../../optim/stats';
import type { Task } from '../../tasks/task';
import { writeFileAtomic } from '../../util/atomic';
import { type Flags, helpText, parse, UsageError } from '../args';
import { DEFAULT_LEARN_ALGOS, knownLearnAlgorithms, learnAlgorithm } from '../learn_algos';
import { renderLearnReport } from '../learn_report';
import { Progress } from '../progress';
import { createPrm, isCheckpoint, loadTask, tokenizer } from '../setup';
import { runSft } from './sft';

export const LEARN_FLAGS = {
  out: { type: 'string', description: 'benchmark folder (SFT starts, cells, results)', default: 'runs/learning' },
  task: { type: 'string', description: 'tasks, comma-separated', default: 'arithmetic,arithmetic-hard' },
  algos: { type: 'string', description: `algorithms, comma-separated (known: ${DEFAULT_LEARN_ALGOS.join(', ')} and any train --algo name)`, default: DEFAULT_LEARN_ALGOS.join(',') },
  seeds: { type: 'string', description: 'a count (5 = seeds 0..4) or a list (3,7,11)', default: '5' },
  steps: { type: 'integer', description: 'RL steps per cell', default: 30, min: 1 },
  prompts: { type: 'integer', description: 'prompts per step', default: 16, min: 1 },
  group: { type: 'integer', description: 'rollouts per prompt (G)', default: 8, min: 2 },
  'eval-problems': { type: 'integer', description: 'held-out problems (the same for every cell)', default: 64, min: 1 },
  'eval-n': { type: 'integer', description: 'samples per held-out problem (pass@k for k <= n)', default: 64, min: 8 },
  'sft-problems': { type: 'integer', description: 'SFT problems (default: the task\'s)', min: 1 },
  'sft-epochs': { type: 'integer', description: 'SFT epochs (default: the task\'s)', min: 1 },
  'prl-eta': { type: 'string', description: 'PRL η: a number, or "auto" (the rule of docs/ALGORITHMS-notes.md from GRPO\'s cell)', default: 'auto' },
  'prm-noise': { type: 'number', description: 'label noise of the rule-based PRM', default: 0.1, min: 0, max: 1 },
  json: { type: 'string', description: 'results JSON file (default <out>/results.json)' },
  device: { type: 'string', description: 'cpu or cuda', default: 'cpu', choices: ['cpu', 'cuda'] },
  quick: { type: 'boolean', description: 'a tiny budget (2 seeds) that checks the pipeline end to end; results are not meaningful' },
} satisfies Flags;

export const LEARN_HELP = helpText('learn', 'learning benchmark: every algorithm from one SFT start per task, over seeds, with intervals', LEARN_FLAGS);

/** Per task: response budget and SFT budget (the SFT start sets the difficulty RL starts from). */
export const LEARN_TASKS: Record<string, { maxNewTokens: number; sftProblems: number; sftEpochs: number }> = {
  arithmetic: { maxNewTokens: 40, sftProblems: 6000, sftEpochs: 4 },
  'arithmetic-hard': { maxNewTokens: 96, sftProblems: 6000, sftEpochs: 4 },
};
const OTHER_TASK = { maxNewTokens: 64, sftProblems: 6000, sftEpochs: 4 };

export interface Budget {
  steps: number;
  prompts: number;
  group: number;
  evalProblems: number;
  evalN: number;
  prmNoise: number;
}

export interface CellResult {
  task: string;
  algo: string;
  seed: number;
  settings: Record<string, unknown>;
  /** Mean correctness of the n held-out samples per problem (an unbiased estimate of avg@8). */
  avg8: number;
  /** Unbiased pass@k for k = 1..n. */
  passAtK: Record<number, number>;
  meanLength: number;
  tokensTrained: number;
  rollouts: number;
  seconds: { train: number; eval: number };
  /** Per step: rollout accuracy, and (process methods) the own-signal ratio. */
  curve: { step: number; accuracy: number; kl: number; suffix?: number; ratio?: number; process?: number; outcome?: number }[];
  /** Mean over steps of the process and outcome parts, and their ratio (process methods only). */
  signal?: { process: number; outcome: number; ratio: number };
  prlEta?: number;
}

export interface AlgoSummary {
  algo: string;
  seeds: number[];
  avg8: Interval;
  passAtK: Record<number, Interval>;
  tokensTrained: Interval;
  seconds: Interval;
  signalRatio?: Interval;
  /** Paired differences against GRPO over the seeds both have. */
  vsGrpo?: { avg8: Interval; passAtK: Record<number, Interval> };
  curve: { step: number; mean: number; low: number; high: number }[];
  /** Per step, the own-signal ratio averaged over seeds (process methods only). */
  ratioCurve?: { step: number; mean: number }[];
}

export interface TaskSummary {
  task: string;
  start: { avg8: number; passAtK: Record<number, number>; meanLength: number };
  prlEta?: { value: number; rule: string };
  algorithms: AlgoSummary[];
}

export interface LearnResults {
  command: string;
  budget: Budget & { seeds: number[]; quick: boolean };
  ks: number[];
  tasks: TaskSummary[];
  wallSeconds: number;
  notes: string[];
}

function parseSeeds(text: string): number[] {
  const list = text.includes(',') ? text.split(',').map((s) => s.trim()).filter(Boolean).map(Number) : null;
  if (list) {
    if (list.some((s) => !Number.isInteger(s) || s < 0) || new Set(list).size !== list.length)
      throw new UsageError(`--seeds: expected distinct non-negative integers (received ${JSON.stringify(text)})`, 'learn');
    return list;
  }
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`--seeds: expected a count >= 1 or a comma-separated list (received ${JSON.stringify(text)})`, 'learn');
  return Array.from({ length: count }, (_, i) => i);
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The ks reported: 1, 2, 4, ... up to n, and n itself. */
export function reportedKs(n: number): number[] {
  const ks: number[] = [];
  for (let k = 1; k <= n; k *= 2) ks.push(k);
  if (ks[ks.length - 1] !== n) ks.push(n);
  return ks;
}

async function evaluateModel(model: TinyLM, task: Task, budget: Budget, maxNewTokens: number, seed: number) {
  const problems = task.problems('test', budget.evalProblems, 0);
  const samples = await sampleResponses(model, tokenizer, task, problems, { n: budget.evalN, maxNewTokens, temperature: 1, seed: 0x5eed + seed });
  const counts = samples.correct.map((c) => c.filter(Boolean).length);
  let length = 0, count = 0;
  for (const texts of samples.texts) for (const t of texts) {
    length += tokenizer.encode(t).length + 1;
    count++;
  }
  const ks = Array.from({ length: budget.evalN }, (_, i) => i + 1);
  return { avg8: accuracy(samples).avg, passAtK: passAtKCurve(counts, budget.evalN, ks), meanLength: length / Math.max(count, 1) };
}

export async function runLearn(argv: readonly string[]): Promise<LearnResults | null> {
  const flags = parse('learn', argv, LEARN_FLAGS);
  if (flags.help) {
    process.stdout.write(LEARN_HELP);
    return null;
  }
  const quick = flags.quick;
  const tasks = flags.task!.split(',').map((t) => t.trim()).filter(Boolean);
  if (tasks.length === 0) throw new UsageError('--task: expected at least one task', 'learn');
  for (const t of tasks) loadTask(t, 'learn');
  const algos = flags.algos!.split(',').map((a) => a.trim()).filter(Boolean);
  if (algos.length === 0) throw new UsageError('--algos: expected at least one algorithm', 'learn');
  for (const a of algos) if (!learnAlgorithm(a)) throw new UsageError(`--algos: unknown algorithm ${JSON.stringify(a)} (expected ${knownLearnAlgorithms().join(', ')})`, 'learn');
  // GRPO first: it is the paired baseline and PRL's automatic η reads its cells.
  algos.sort((a, b) => Number(b === 'grpo') - Number(a === 'grpo'));
  const seeds = quick && !argv.includes('--seeds') ? [0, 1] : parseSeeds(flags.seeds!);
  const etaFlag = flags['prl-eta']!;
  if (etaFlag !== 'auto' && !(Number(etaFlag) > 0)) throw new UsageError(`--prl-eta: expected "auto" or a number > 0 (received ${JSON.stringify(etaFlag)})`, 'learn');
  const budget: Budget = quick
    ? { steps: 2, prompts: 2, group: 4, evalProblems: 4, evalN: 16, prmNoise: flags['prm-noise']! }
    : { steps: flags.steps!, prompts: flags.prompts!, group: flags.group!, evalProblems: flags['eval-problems']!, evalN: flags['eval-n']!, prmNoise: flags['prm-noise']! };
  const device = flags.device as 'cpu' | 'cuda';
  const out = path.resolve(flags.out!);
  fs.mkdirSync(out, { recursive: true });
  const started = Date.now();
  const ks = reportedKs(budget.evalN);
  const summaries: TaskSummary[] = [];
  const allCells: CellResult[] = [];

  for (const taskName of tasks) {
    const task = loadTask(taskName, 'learn');
    const taskDefaults = LEARN_TASKS[taskName] ?? OTHER_TASK;
    const maxNewTokens = taskDefaults.maxNewTokens;
    const taskDir = path.join(out, taskName.replace(/[^A-Za-z0-9_.-]/g, '_'));
    // 1. The SFT start, reused while its settings match.
    const sftDir = path.join(taskDir, 'sft');
    const sft = quick ? { problems: 128, epochs: 1 } : { problems: flags['sft-problems'] ?? taskDefaults.sftProblems, epochs: flags['sft-epochs'] ?? taskDefaults.sftEpochs };
    const sftFile = path.join(sftDir, 'sft.json');
    const cachedSft = isCheckpoint(sftDir) && fs.existsSync(sftFile) && (() => {
      const s = readJson<{ settings: { task: string; problems: number; epochs: number; seed: number } }>(sftFile);
      return s !== null && s.settings.task === taskName && s.settings.problems === sft.problems && s.settings.epochs === sft.epochs && s.settings.seed === 0;
    })();
    if (cachedSft) process.stderr.write(`learn [${taskName}]: reusing the SFT start in ${sftDir}\n`);
    else await runSft(['--task', taskName, '--out', sftDir, '--problems', String(sft.problems), '--epochs', String(sft.epochs), '--seed', '0', '--device', device]);
    const sftStamp = fs.statSync(path.join(sftDir, 'config.json')).mtimeMs;

    // 2. The start's held-out figures (and its response length, for PRL's η).
    const startFile = path.join(taskDir, 'start.json');
    const startSettings = { sftStamp, evalProblems: budget.evalProblems, evalN: budget.evalN, maxNewTokens };
    let start = readJson<{ settings: unknown; avg8: number; passAtK: Record<number, number>; meanLength: number }>(startFile);
    if (!start || !same(start.settings, startSettings)) {
      process.stderr.write(`learn [${taskName}]: evaluating the SFT start (${budget.evalProblems} problems x ${budget.evalN} samples)\n`);
      const model = TinyLM.load(sftDir, { device });
      start = { settings: startSettings, ...(await evaluateModel(model, task, budget, maxNewTokens, 0)) };
      model.dispose();
      writeFileAtomic(startFile, JSON.stringify(start, null, 2) + '\n');
    }
    process.stderr.write(`learn [${taskName}]: start avg@8 ${(100 * start.avg8).toFixed(1)}%, pass@8 ${(100 * start.passAtK[8]).toFixed(1)}%, ` +
      `pass@${budget.evalN} ${(100 * start.passAtK[budget.evalN]).toFixed(1)}%, mean response ${start.meanLength.toFixed(1)} tokens\n`);

    // 3. The cells.
    const cells: CellResult[] = [];
    let eta: { value: number; rule: string } | undefined;
    for (const algo of algos) {
      const spec = learnAlgorithm(algo)!;
      if (algo === 'prl') eta = chooseEta(etaFlag, cells, start.meanLength, taskName);
      for (const seed of seeds) {
        const cellDir = path.join(taskDir, algo, `seed-${seed}`);
        const settings = { budget, maxNewTokens, sftStamp, lr: spec.lr, ...(algo === 'prl' ? { prlEta: eta!.value } : {}) };
        const resultFile = path.join(cellDir, 'result.json');
        const cached = readJson<CellResult>(resultFile);
        if (cached && same(cached.settings, settings)) {
          process.stderr.write(`learn [${taskName}] ${algo} seed ${seed}: finished earlier, reusing it\n`);
          cells.push(cached);
          continue;
        }
        fs.rmSync(cellDir, { recursive: true, force: true });
        fs.mkdirSync(cellDir, { recursive: true });
        const result = await runCell({ task, taskName, algo, seed, budget, maxNewTokens, sftDir, device, cellDir, settings, eta: algo === 'prl' ? eta!.value : undefined });
        writeFileAtomic(resultFile, JSON.stringify(result) + '\n');
        cells.push(result);
      }
    }
    allCells.push(...cells);
    summaries.push({ task: taskName, start: { avg8: start.avg8, passAtK: start.passAtK, meanLength: start.meanLength }, ...(eta ? { prlEta: eta } : {}), algorithms: summarize(cells, algos, seeds, ks) });
  }

  const results: LearnResults = {
    command: `steprl learn ${argv.join(' ')}`.trim(),
    budget: { ...budget, seeds, quick },
    ks,
    tasks: summaries,
    wallSeconds: (Date.now() - started) / 1000,
    notes: [
      `Each cell: ${budget.steps} RL steps x ${budget.prompts} prompts x ${budget.group} rollouts from the task's SFT start (seed 0); the seed sets RL sampling, problem order and evaluation sampling.`,
      `Held-out: the same ${budget.evalProblems} problems for every cell, ${budget.evalN} samples each at temperature 1; avg@8 is the mean correctness of those samples (an unbiased estimate of avg@8); pass@k = 1 - C(n-c,k)/C(n,k) averaged over problems.`,
      `Intervals: mean ± the 95% Student-t half-width over seeds; differences vs GRPO are paired by seed. With one seed no interval exists (shown as n/a).`,
      `Rule-based PRM with ${budget.prmNoise} label noise for the PRM methods.`,
    ],
  };
  const jsonFile = path.resolve(flags.json ?? path.join(out, 'results.json'));
  writeFileAtomic(jsonFile, JSON.stringify(results, null, 2) + '\n');
  const markdown = learnMarkdown(results);
  writeFileAtomic(path.join(out, 'results.md'), markdown);
  writeFileAtomic(path.join(out, 'report.html'), renderLearnReport(results, allCells));
  process.stdout.write(markdown);
  process.stdout.write(`\nresults: ${jsonFile}\ntable:   ${path.join(out, 'results.md')}\nreport:  ${path.join(out, 'report.html')}\n(${(results.wallSeconds / 60).toFixed(1)} min)\n`);
  return results;
}

/** PRL's η: the flag's number, or the rule from the GRPO cells already run on this task. */
function chooseEta(flag: string, cells: readonly CellResult[], meanLength: number, taskName: string): { value: number; rule: string } {
  if (flag !== 'auto') return { value: Number(flag), rule: `--prl-eta ${flag}` };
  const grpoCells = cells.filter((c) => c.algo === 'grpo');
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  const perCell = (pick: (p: CellResult['curve'][number]) => number | undefined) =>
    mean(grpoCells.map((c) => mean(c.curve.map(pick).filter((x): x is number => typeof x === 'number' && Number.isFinite(x)))));
  const suffixAbs = perCell((p) => p.suffix), outcomeAbs = perCell((p) => p.outcome);
  let value: number, source: string;
  if (grpoCells.length > 0 && suffixAbs > 0 && outcomeAbs > 0) {
    value = prlEta({ suffixAbs, outcomeAbs });
    source = `GRPO's ${grpoCells.length} cell(s): mean |S| ${suffixAbs.toPrecision(3)}, mean |A| ${outcomeAbs.toPrecision(3)}`;
  } else {
    // No usable GRPO cell (not run, or no learning signal): the first-order estimate κ·L/2.
    value = prlEta({ meanLength, klPerToken: FALLBACK_KL, outcomeAbs: FALLBACK_OUTCOME_ABS });
    source = `no usable GRPO cell; assumed per-token KL ${FALLBACK_KL}, |A| ${FALLBACK_OUTCOME_ABS}, L = ${meanLength.toFixed(1)}`;
  }
  process.stderr.write(`learn [${taskName}]: PRL η = ${value.toPrecision(3)} (${source}; target ratio 0.25)\n`);
  return { value, rule: `η = E|S|/(0.25·E|A|) from ${source}` };
}

const FALLBACK_KL = 0.01;
const FALLBACK_OUTCOME_ABS = 0.5;

interface CellInputs {
  task: Task;
  taskName: string;
  algo: string;
  seed: number;
  budget: Budget;
  maxNewTokens: number;
  sftDir: string;
  device: 'cpu' | 'cuda';
  cellDir: string;
  settings: Record<string, unknown>;
  eta?: number;
}

async function runCell(c: CellInputs): Promise<CellResult> {
  const spec = learnAlgorithm(c.algo)!;
  const reference = TinyLM.load(c.sftDir, { device: c.device });
  const policy = TinyLM.load(c.sftDir, { device: c.device, valueHead: spec.valueHead });
  const prm = createPrm(c.task, c.budget.prmNoise, c.seed);
  const trainer = new Trainer({
    policy, reference, algorithm: spec.make({ prlEta: c.eta ?? 200 }), task: c.task, tokenizer, prm,
    promptsPerStep: c.budget.prompts, groupSize: c.budget.group, maxNewTokens: c.maxNewTokens, lr: spec.lr, seed: c.seed,
  });
  const progress = new Progress(`learn [${c.taskName}] ${c.algo} seed ${c.seed}`, c.budget.steps);
  const metrics: StepMetrics[] = [];
  const trainStart = Date.now();
  const metricsFile = path.join(c.cellDir, 'metrics.jsonl');
  let tokensTrained = 0;
  while (trainer.step < c.budget.steps) {
    const m = await trainer.trainStep();
    metrics.push(m);
    tokensTrained += Math.round(m.responseLength * c.budget.prompts * c.budget.group);
    fs.appendFileSync(metricsFile, JSON.stringify(m) + '\n');
    progress.update(trainer.step, { acc: m.accuracy, kl: m.kl, len: m.responseLength, ...(m.signal ? { ratio: m.signal.ratio } : {}) });
  }
  const train = (Date.now() - trainStart) / 1000;
  const evalStart = Date.now();
  const evaluation = await evaluateModel(policy, c.task, c.budget, c.maxNewTokens, c.seed);
  const seconds = { train, eval: (Date.now() - evalStart) / 1000 };
  progress.finish(`avg@8 ${(100 * evaluation.avg8).toFixed(1)}%, pass@8 ${(100 * evaluation.passAtK[8]).toFixed(1)}%, ${seconds.train.toFixed(0)} s train + ${seconds.eval.toFixed(0)} s eval`);
  policy.dispose();
  reference.dispose();
  const withSignal = metrics.filter((m) => m.signal);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  return {
    task: c.taskName, algo: c.algo, seed: c.seed, settings: c.settings,
    avg8: evaluation.avg8, passAtK: evaluation.passAtK, meanLength: evaluation.meanLength,
    tokensTrained, rollouts: c.budget.steps * c.budget.prompts * c.budget.group, seconds,
    curve: metrics.map((m) => ({
      step: m.step, accuracy: m.accuracy, kl: m.kl, outcome: m.advantageAbsMean,
      ...(m.suffixLogRatioAbs !== undefined ? { suffix: m.suffixLogRatioAbs } : {}),
      ...(m.signal ? { ratio: m.signal.ratio, process: m.signal.process, outcome: m.signal.outcome } : {}),
    })),
    ...(withSignal.length ? {
      signal: (() => {
        const process = mean(withSignal.map((m) => m.signal!.process)), outcome = mean(withSignal.map((m) => m.signal!.outcome));
        return { process, outcome, ratio: outcome > 0 ? process / outcome : NaN };
      })(),
    } : {}),
    ...(c.eta !== undefined ? { prlEta: c.eta } : {}),
  };
}

export function summarize(cells: readonly CellResult[], algos: readonly string[], seeds: readonly number[], ks: readonly number[]): AlgoSummary[] {
  const grpo = new Map(cells.filter((c) => c.algo === 'grpo').map((c) => [c.seed, c]));
  return algos.map((algo) => {
    const mine = seeds.map((s) => cells.find((c) => c.algo === algo && c.seed === s)).filter((c): c is CellResult => Boolean(c));
    const passAtK: Record<number, Interval> = {};
    for (const k of ks) passAtK[k] = meanInterval(mine.map((c) => c.passAtK[k]));
    const paired = mine.filter((c) => grpo.has(c.seed));
    const vsGrpo = algo !== 'grpo' && paired.length > 0 ? {
      avg8: pairedInterval(paired.map((c) => c.avg8), paired.map((c) => grpo.get(c.seed)!.avg8)),
      passAtK: Object.fromEntries(ks.map((k) => [k, pairedInterval(paired.map((c) => c.passAtK[k]), paired.map((c) => grpo.get(c.seed)!.passAtK[k]))])),
    } : undefined;
    const steps = Math.max(0, ...mine.map((c) => c.curve.length));
    const curve = Array.from({ length: steps }, (_, i) => {
      const iv = meanInterval(mine.filter((c) => c.curve[i]).map((c) => c.curve[i].accuracy));
      return { step: i, mean: iv.mean, low: Number.isFinite(iv.low) ? iv.low : iv.mean, high: Number.isFinite(iv.high) ? iv.high : iv.mean };
    });
    const signals = mine.filter((c) => c.signal);
    const ratioCurve = Array.from({ length: steps }, (_, i) => {
      const rs = mine.map((c) => c.curve[i]?.ratio).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
      return { step: i, mean: rs.length ? rs.reduce((a, b) => a + b, 0) / rs.length : NaN };
    }).filter((p) => Number.isFinite(p.mean));
    return {
      algo, seeds: mine.map((c) => c.seed),
      avg8: meanInterval(mine.map((c) => c.avg8)), passAtK,
      tokensTrained: meanInterval(mine.map((c) => c.tokensTrained)),
      seconds: meanInterval(mine.map((c) => c.seconds.train + c.seconds.eval)),
      ...(signals.length ? { signalRatio: meanInterval(signals.map((c) => c.signal!.ratio).filter(Number.isFinite)) } : {}),
      ...(vsGrpo ? { vsGrpo } : {}),
      curve,
      ...(ratioCurve.length ? { ratioCurve } : {}),
    };
  });
}

const pct = (iv: Interval) => (Number.isFinite(iv.half) ? `${(100 * iv.mean).toFixed(1)} ± ${(100 * iv.half).toFixed(1)}` : `${(100 * iv.mean).toFixed(1)} (n/a)`);
const signedPct = (iv: Interval) => (Number.isFinite(iv.half)
  ? `${iv.mean >= 0 ? '+' : ''}${(100 * iv.mean).toFixed(1)} ± ${(100 * iv.half).toFixed(1)}`
  : `${iv.mean >= 0 ? '+' : ''}${(100 * iv.mean).toFixed(1)} (n/a)`);

/** The results as Markdown: one table per task, percentages with 95% half-widths over seeds. */
export function learnMarkdown(r: LearnResults): string {
  const n = r.budget.evalN;
  const mid = r.ks.includes(8) ? 8 : r.ks[Math.floor(r.ks.length / 2)];
  const lines = [`# steprl learning benchmark`, '', `\`${r.command}\` — ${r.budget.seeds.length} seed(s) (${r.budget.seeds.join(', ')}), ${(r.wallSeconds / 60).toFixed(1)} min wall${r.budget.quick ? ' — QUICK MODE: a pipeline check, not a result' : ''}`, ''];
  for (const t of r.tasks) {
    lines.push(`## ${t.task}`, '', `SFT start: avg@8 ${(100 * t.start.avg8).toFixed(1)}%, pass@1 ${(100 * t.start.passAtK[1]).toFixed(1)}%, pass@${mid} ${(100 * t.start.passAtK[mid]).toFixed(1)}%, pass@${n} ${(100 * t.start.passAtK[n]).toFixed(1)}%, mean response ${t.start.meanLength.toFixed(1)} tokens.` +
      (t.prlEta ? ` PRL η = ${t.prlEta.value.toPrecision(3)} (${t.prlEta.rule}).` : ''), '');
    lines.push(`| algorithm | seeds | avg@8 % | pass@1 % | pass@${mid} % | pass@${n} % | Δavg@8 vs GRPO | Δpass@${n} vs GRPO | own signal / outcome | tokens trained | wall s |`);
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const a of t.algorithms) {
      lines.push(`| ${a.algo} | ${a.seeds.length} | ${pct(a.avg8)} | ${pct(a.passAtK[1])} | ${pct(a.passAtK[mid])} | ${pct(a.passAtK[n])} | ` +
        `${a.vsGrpo ? signedPct(a.vsGrpo.avg8) : '—'} | ${a.vsGrpo ? signedPct(a.vsGrpo.passAtK[n]) : '—'} | ` +
        `${a.signalRatio && Number.isFinite(a.signalRatio.mean) ? a.signalRatio.mean.toPrecision(2) : '—'} | ${Math.round(a.tokensTrained.mean)} | ${a.seconds.mean.toFixed(0)} |`);
    }
    lines.push('');
  }
  lines.push(...r.notes.map((note) => `- ${note}`), '');
  return lines.join('\n');
}
