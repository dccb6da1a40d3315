// report.ts: `steprl report` — the HTML report of a folder of runs (each <algo>/metrics.jsonl),
// with the demo's summary.json table and best-of-n.json curves when present, and a table of the
// held-out evaluations (`steprl eval --out <file>.json`) saved in the folder or its run folders.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { FormatError } from '../../errors';
import type { StepMetrics } from '../../optim/metrics';
import { writeFileAtomic } from '../../util/atomic';
import { type Flags, helpText, parse, UsageError } from '../args';
import { renderReport, type ReportData } from '../report';

export const REPORT_FLAGS = {
  runs: { type: 'string', description: 'folder holding one sub-folder per run (<algo>/metrics.jsonl)', default: 'runs/demo' },
  out: { type: 'string', description: 'HTML file to write (default <runs>/report.html)' },
  title: { type: 'string', description: 'report title', default: 'steprl: process-supervised RL on the embedded task' },
} satisfies Flags;

export const REPORT_HELP = helpText('report', 'one offline HTML file with charts of the runs', REPORT_FLAGS);

function readJsonl(file: string): StepMetrics[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').flatMap((line) => {
    try {
      return [JSON.parse(line) as StepMetrics];
    } catch {
      return [];
    }
  });
}

function readJson<T>(file: string): T | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (error) {
    throw new FormatError(file, `not JSON (${(error as Error).message})`);
  }
}

export function buildReport(runsDir: string, title: string): ReportData {
  const summary = readJson<{ algorithms: { algo: string; before: Record<string, number>; after: Record<string, number> }[]; notes?: string[] }>(path.join(runsDir, 'summary.json'));
  const order = summary?.algorithms.map((a) => a.algo) ?? [];
  const runs = fs.readdirSync(runsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(runsDir, d.name, 'metrics.jsonl')))
    .map((d) => ({ algo: d.name, metrics: readJsonl(path.join(runsDir, d.name, 'metrics.jsonl')) }))
    .sort((a, b) => (order.indexOf(a.algo) + 1 || 99) - (order.indexOf(b.algo) + 1 || 99));
  return {
    title,
    runs,
    evals: findEvals(runsDir),
    table: summary?.algorithms,
    bestOfN: readJson(path.join(runsDir, 'best-of-n.json')),
    notes: summary?.notes,
  };
}

/** `steprl eval --out` results in the folder and its sub-folders (files with a model, a task and an accuracy). */
function findEvals(runsDir: string): NonNullable<ReportData['evals']> {
  const files: string[] = [];
  for (const entry of fs.readdirSync(runsDir, { withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.json')) files.push(path.join(runsDir, entry.name));
    if (entry.isDirectory())
      for (const inner of fs.readdirSync(path.join(runsDir, entry.name), { withFileTypes: true }))
        if (inner.isFile() && inner.name.endsWith('.json')) files.push(path.join(runsDir, entry.name, inner.name));
  }
  const out: NonNullable<ReportData['evals']> = [];
  for (const file of files.sort()) {
    let json: { model?: unknown; task?: unknown; accuracy?: { n?: unknown; problems?: unknown; avg?: unknown; pass?: unknown } };
    try {
      json = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      continue;  // not an evaluation
    }
    const a = json?.accuracy;
    if (typeof json?.model !== 'string' || typeof json.task !== 'string' || typeof a?.avg !== 'number' || typeof a.pass !== 'number') continue;
    out.push({ name: path.relative(runsDir, file), model: json.model, task: json.task, n: Number(a.n), problems: Number(a.problems), avg: a.avg, pass: a.pass });
  }
  return out;
}

export function runReport(argv: readonly string[]): string | null {
  const flags = parse('report', argv, REPORT_FLAGS);
  if (flags.help) {
    process.stdout.write(REPORT_HELP);
    return null;
  }
  const runsDir = path.resolve(flags.runs!);
  if (!fs.existsSync(runsDir)) throw new UsageError(`--runs ${runsDir}: no such folder`, 'report');
  const data = buildReport(runsDir, flags.title!);
  if (data.runs.length === 0 && !data.bestOfN && !data.evals?.length)
    throw new UsageError(`--runs ${runsDir}: no runs (sub-folders with metrics.jsonl) or evaluations (steprl eval --out) to report`, 'report');
  const out = path.resolve(flags.out ?? path.join(runsDir, 'report.html'));
  writeFileAtomic(out, renderReport(data));
  process.stderr.write(`report: ${out}\n`);
  return out;
}
