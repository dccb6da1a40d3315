// demo.ts: `steprl demo` (what `npm start` runs) — the main job: supervised warm start of the
// embedded model (cached after the first run), then every algorithm for the default budget from
// that same start, held-out evaluation before and after, best-of-N with the PRM, and the report.
// Runs already complete are reused and interrupted ones resumed, so a second `npm start` is quick.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { writeFileAtomic } from '../../util/atomic';
import { readTrainingState } from '../../optim/checkpoint';
import { type Flags, helpText, parse, UsageError } from '../args';
import { ALGORITHMS, CORE_ALGORITHMS, type AlgorithmName, isCheckpoint } from '../setup';
import { runEval } from './eval';
import { runReport } from './report';
import { runSft } from './sft';
import { runTrain } from './train';

export const DEMO_FLAGS = {
  out: { type: 'string', description: 'demo folder', default: 'runs/demo' },
  algos: { type: 'string', description: `algorithms to run, comma-separated`, default: CORE_ALGORITHMS.join(',') },
  steps: { type: 'integer', description: 'RL steps per algorithm', default: 30, min: 1 },
  'sft-problems': { type: 'integer', description: 'SFT training problems', default: 6000, min: 1 },
  'sft-epochs': { type: 'integer', description: 'SFT epochs', default: 4, min: 1 },
  'eval-problems': { type: 'integer', description: 'held-out problems for avg@8 / pass@8', default: 128, min: 1 },
  'best-of-problems': { type: 'integer', description: 'held-out problems for best-of-N (0 = skip)', default: 64, min: 0 },
  seed: { type: 'integer', description: 'seed of everything', default: 0, min: 0 },
  device: { type: 'string', description: 'cpu or cuda', default: 'cpu', choices: ['cpu', 'cuda'] },
  fresh: { type: 'boolean', description: 'delete the demo folder first (the SFT cache included)' },
  quick: { type: 'boolean', description: 'a tiny budget to check the pipeline end to end (results are not meaningful)' },
} satisfies Flags;

export const DEMO_HELP = helpText('demo', 'SFT, then GRPO, PPO, PSPO, PRL, PRPO and process-GRPO from the same start; eval; report', DEMO_FLAGS);

interface Row {
  algo: string;
  before: { 'avg@8': number; 'pass@8': number };
  after: { 'avg@8': number; 'pass@8': number };
}

export async function runDemo(argv: readonly string[]): Promise<Row[] | null> {
  const flags = parse('demo', argv, DEMO_FLAGS);
  if (flags.help) {
    process.stdout.write(DEMO_HELP);
    return null;
  }
  const algos = flags.algos!.split(',').map((a) => a.trim()).filter(Boolean) as AlgorithmName[];
  for (const a of algos) if (!ALGORITHMS.includes(a)) throw new UsageError(`--algos: unknown algorithm ${JSON.stringify(a)} (expected ${ALGORITHMS.join(', ')})`, 'demo');
  const quick = flags.quick;
  const budget = {
    steps: quick ? 2 : flags.steps!, sftProblems: quick ? 256 : flags['sft-problems']!, sftEpochs: quick ? 1 : flags['sft-epochs']!,
    evalProblems: quick ? 16 : flags['eval-problems']!, bestOfProblems: quick ? 4 : flags['best-of-problems']!,
  };
  const out = path.resolve(flags.out!);
  if (flags.fresh) fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  const common = ['--seed', String(flags.seed), '--device', flags.device!];
  const started = Date.now();

  // 1. Supervised warm start, reused while its settings match.
  const sftDir = path.join(out, 'sft');
  const sftSettings = { problems: budget.sftProblems, epochs: budget.sftEpochs, seed: flags.seed };
  const cachedFile = path.join(sftDir, 'sft.json');
  const cached = isCheckpoint(sftDir) && fs.existsSync(cachedFile) && (() => {
    const s = JSON.parse(fs.readFileSync(cachedFile, 'utf8')).settings;
    return s.problems === sftSettings.problems && s.epochs === sftSettings.epochs && s.seed === sftSettings.seed;
  })();
  if (cached) process.stderr.write(`demo: reusing the SFT checkpoint in ${sftDir}\n`);
  else await runSft(['--out', sftDir, '--problems', String(budget.sftProblems), '--epochs', String(budget.sftEpochs), ...common]);

  const evaluate = async (model: string) => {
    const r = await runEval(['--model', model, '--problems', String(budget.evalProblems), '--n', '8', '--best-of', '', ...common]);
    return { 'avg@8': r!.accuracy.avg, 'pass@8': r!.accuracy.pass };
  };
  const before = await evaluate(sftDir);

  // 2. Every algorithm from the same start.
  const rows: Row[] = [];
  for (const algo of algos) {
    const runDir = path.join(out, algo);
    const checkpoint = path.join(runDir, 'checkpoint');
    const state = isCheckpoint(checkpoint) ? readTrainingState(checkpoint) : null;
    if (state && (state.run.from !== sftDir || state.run.seed !== flags.seed)) fs.rmSync(runDir, { recursive: true, force: true });
    const done = state && state.run.from === sftDir && state.step >= budget.steps;
    if (done) process.stderr.write(`demo: ${algo} already trained for ${state!.step} steps, reusing it\n`);
    else await runTrain(['--algo', algo, '--model', sftDir, '--out', runDir, '--steps', String(budget.steps), ...(state ? ['--resume'] : []), ...common]);
    rows.push({ algo, before, after: await evaluate(checkpoint) });
    writeFileAtomic(path.join(out, 'summary.json'), JSON.stringify({ algorithms: rows, notes: notes(budget) }, null, 2) + '\n');
  }

  // 3. Best-of-N on the SFT model: PRM vs ORM vs majority vote.
  if (budget.bestOfProblems > 0) {
    const sizes = quick ? '1,4' : '1,4,16,64';
    const r = await runEval(['--model', sftDir, '--problems', '1', '--n', '1', '--best-of', sizes, '--best-of-problems', String(budget.bestOfProblems), '--quiet', ...common]);
    writeFileAtomic(path.join(out, 'best-of-n.json'), JSON.stringify({ model: 'SFT start', results: r!.bestOfN }, null, 2) + '\n');
  }
  const report = runReport(['--runs', out]);
  printTable(rows);
  process.stdout.write(`\nsummary: ${path.join(out, 'summary.json')}\nreport:  ${report}\n(${((Date.now() - started) / 60000).toFixed(1)} min)\n`);
  return rows;
}

function notes(budget: { steps: number; evalProblems: number }): string[] {
  return [
    `Each algorithm trained ${budget.steps} steps (16 prompts x 8 rollouts per step) from the same SFT checkpoint.`,
    `avg@8 = mean correctness of 8 samples (temperature 1) per held-out problem; pass@8 = at least one correct; ${budget.evalProblems} problems.`,
  ];
}

function printTable(rows: Row[]): void {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(7);
  const lines = ['', 'algorithm      avg@8 before  avg@8 after   pass@8 before  pass@8 after', '-'.repeat(72)];
  for (const r of rows)
    lines.push(`${r.algo.padEnd(14)} ${pct(r.before['avg@8'])}       ${pct(r.after['avg@8'])}       ${pct(r.before['pass@8'])}        ${pct(r.after['pass@8'])}`);
  process.stdout.write(lines.join('\n') + '\n');
}
