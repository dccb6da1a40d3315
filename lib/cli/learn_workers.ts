// learn_workers.ts: `steprl learn --jobs N`: the benchmark's cells in child processes (one cell each,
// N at a time) into the same --out, in an order that lets the caller's own pass reuse every cell.
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

import type { parse } from './args';
import type { LEARN_FLAGS } from './commands/learn';
import { chooseEta } from './learn_cell';
import { readJson, taskFolder } from './learn_files';
import type { CellResult } from './learn_summary';

/** The CLI entry the workers run: dist/cli/main.js (also when this module runs from lib/ under ts-jest). */
const LEARN_MAIN = __filename.endsWith('.ts') ? path.resolve(__dirname, '../../dist/cli/main.js') : path.resolve(__dirname, 'main.js');

/**
 * --jobs N: runs every cell in child processes (`learn --worker`, one cell each, N at a time, each
 * with cores/N threads unless STEPRL_NUM_THREADS is set) into the same --out; the caller's own pass
 * then reuses every cell and writes the table. Order: one cell per task first (each makes its task's
 * SFT start and evaluates it, the tasks in parallel), then the other GRPO cells, then the rest with
 * PRL's η fixed to what the caller's pass will compute from all GRPO cells (so the PRL cells' key
 * matches and they are reused).
 */
export async function runCellsInWorkers(
  flags: ReturnType<typeof parse<typeof LEARN_FLAGS>>,
  run: { tasks: string[]; algos: string[]; seeds: number[]; etaFlag: string; out: string; jobs: number }
) {
  const common = ['--out', run.out, '--eval-n', String(flags['eval-n']), '--prm-noise', String(flags['prm-noise']), '--device', String(flags.device), '--worker'];
  for (const [flag, value] of [['steps', flags.steps], ['prompts', flags.prompts], ['group', flags.group], ['eval-problems', flags['eval-problems']],
    ['sft-problems', flags['sft-problems']], ['sft-epochs', flags['sft-epochs']], ['lr-scale', flags['lr-scale']]] as const)
    if (value !== undefined) common.push(`--${flag}`, String(value));
  if (flags.quick) common.push('--quick');
  const cell = (taskName: string, algo: string, seed: number, eta = 'auto') => [...common, '--task', taskName, '--algos', algo, '--seeds', `${seed},`, '--prl-eta', eta];
  const threads = process.env.STEPRL_NUM_THREADS ?? String(Math.max(1, Math.floor(os.availableParallelism() / run.jobs)));
  const pool = async (cells: string[][]) => {
    let next = 0;
    const failed: string[] = [];
    const worker = async () => {
      while (next < cells.length) {
        const args = cells[next++]!;
        const code = await new Promise<number>((resolve) => {
          const child = spawn(process.execPath, [LEARN_MAIN, 'learn', ...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, STEPRL_NUM_THREADS: threads } });
          child.on('error', () => resolve(-1));
          child.on('exit', (c) => resolve(c ?? -1));
        });
        if (code !== 0) failed.push(`learn ${args.join(' ')} (exit ${code})`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(run.jobs, cells.length) }, worker));
    if (failed.length) throw new Error(`steprl learn --jobs: ${failed.length} worker(s) failed: ${failed.join('; ')}`);
  };
  const [firstAlgo, ...otherAlgos] = run.algos;
  const [firstSeed, ...otherSeeds] = run.seeds;
  await pool(run.tasks.map((t) => cell(t, firstAlgo!, firstSeed!)));
  await pool(run.tasks.flatMap((t) => otherSeeds.map((s) => cell(t, firstAlgo!, s))));
  const rest: string[][] = [];
  for (const t of run.tasks) {
    let eta = run.etaFlag;
    if (otherAlgos.includes('prl') && eta === 'auto') {
      // What the caller's pass computes: the rule from this run's GRPO cells (all seeds) and the start.
      const dir = taskFolder(run.out, t);
      const grpoCells = firstAlgo === 'grpo' ? run.seeds.map((s) => readJson<CellResult>(path.join(dir, 'grpo', `seed-${s}`, 'result.json'))).filter((c): c is CellResult => c !== null) : [];
      const start = readJson<{ meanLength: number }>(path.join(dir, 'start.json'));
      eta = String(chooseEta('auto', grpoCells, start?.meanLength ?? NaN, t).value);
    }
    for (const a of otherAlgos) for (const s of run.seeds) rest.push(cell(t, a, s, a === 'prl' ? eta : 'auto'));
  }
  await pool(rest);
}
