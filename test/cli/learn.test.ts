// learn.test.ts: `steprl learn --quick` (the learning benchmark's pipeline check) end to end on a
// small slice: SFT start, cells over 2 seeds, pass@k, intervals, paired differences against GRPO,
// PRL's η from GRPO's cells, best-of-N at the start and the claims, results JSON / Markdown / HTML;
// a second run reuses every cell; best-of-N redraws the start's samples when they were not kept.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { type CellResult, runLearn, type LearnResults } from '../../lib/cli/commands/learn';

const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

test('learn --quick: JSON with intervals over seeds, paired differences, pass@k; resumable', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-learn-'));
  const json = path.join(out, 'r.json');
  const argv = ['--quick', '--task', 'arithmetic', '--algos', 'prl,grpo', '--out', out, '--json', json];
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  const stderr = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  let first: LearnResults | null, second: LearnResults | null;
  let reused: number[];
  let redrawn: LearnResults | null;
  try {
    first = await runLearn(argv);
    const cellFiles = ['grpo', 'prl'].flatMap((a) => [0, 1].map((s) => path.join(out, 'arithmetic', a, `seed-${s}`, 'result.json')))
      .concat([path.join(out, 'arithmetic', 'best-of-n.json'), path.join(out, 'arithmetic', 'start-samples.json')]);
    const stamps = cellFiles.map((f) => fs.statSync(f).mtimeMs);
    second = await runLearn(argv);
    reused = cellFiles.map((f, i) => fs.statSync(f).mtimeMs - stamps[i]);
    // A start evaluated before its samples were kept: best-of-N draws them again, the same draw.
    fs.rmSync(path.join(out, 'arithmetic', 'start-samples.json'));
    fs.rmSync(path.join(out, 'arithmetic', 'best-of-n.json'));
    redrawn = await runLearn(argv);
  } finally {
    process.stdout.write = write;
    process.stderr.write = stderr;
  }
  const r = JSON.parse(fs.readFileSync(json, 'utf8')) as LearnResults;
  expect(r.budget.seeds).toEqual([0, 1]);
  expect(r.ks).toEqual([1, 2, 4, 8, 16]);
  const [task] = r.tasks;
  expect(task.task).toBe('arithmetic');
  // GRPO runs first (the paired baseline and the source of PRL's η).
  expect(task.algorithms.map((a) => a.algo)).toEqual(['grpo', 'prl']);
  expect(task.prlEta!.value).toBeGreaterThan(0);
  for (const a of task.algorithms) {
    expect(a.seeds).toEqual([0, 1]);
    expect(a.avg8.n).toBe(2);
    expect(Number.isFinite(a.avg8.half)).toBe(true);
    expect(a.avg8.low).toBeLessThanOrEqual(a.avg8.mean);
    expect(a.tokensTrained.mean).toBeGreaterThan(0);
    expect(a.curve).toHaveLength(2);
    for (let i = 1; i < r.ks.length; i++) expect(a.passAtK[r.ks[i]].mean).toBeGreaterThanOrEqual(a.passAtK[r.ks[i - 1]].mean - 1e-12);
    expect(a.passAtK[1].mean).toBeCloseTo(a.avg8.mean, 12);
  }
  // Each cell records what it cost (wall by phase, CPU), and the task its means and its SFT start's.
  for (const a of ['grpo', 'prl']) for (const seed of [0, 1]) {
    const cell = JSON.parse(fs.readFileSync(path.join(out, 'arithmetic', a, `seed-${seed}`, 'result.json'), 'utf8')) as CellResult;
    expect(cell.cpuSeconds!.train).toBeGreaterThan(0);
    expect(cell.cpuSeconds!.eval).toBeGreaterThan(0);
    expect(cell.phases!.rollout).toBeGreaterThan(0);
    expect(cell.phases!.update).toBeGreaterThan(0);
    expect(cell.phases!.rollout + cell.phases!.reference + cell.phases!.advantages + cell.phases!.update).toBeLessThanOrEqual(cell.seconds.train + 0.01);
  }
  expect(task.cost!.cells).toBe(4);
  expect(task.cost!.cpu.train).toBeGreaterThan(0);
  expect(task.cost!.sft!.cpu).toBeGreaterThan(0);
  expect(task.cost!.sft!.wall).toBeGreaterThan(0);
  expect(fs.readFileSync(path.join(out, 'results.md'), 'utf8')).toMatch(/Cost per cell \(mean of 4\): wall \d+ s training \(rollouts \d+/);
  const prl = task.algorithms[1];
  expect(prl.vsGrpo!.avg8.n).toBe(2);
  expect(task.algorithms[0].vsGrpo).toBeUndefined();
  expect(fs.readFileSync(path.join(out, 'results.md'), 'utf8')).toMatch(/\| prl \| 2 \|/);
  const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
  expect(html).toContain('learn-curve-0');
  expect(html).toContain('learn-pass-0');
  expect(html).toContain('learn-bestofn-0');
  expect(html).toContain('<h3>Claims</h3>');
  // The own-signal chart appears when PRL's ratio was defined at some step (some group not uniform).
  const signalChart = Boolean(task.algorithms[1].ratioCurve?.length);
  expect(html.includes('learn-signal-0')).toBe(signalChart);
  expect(html).not.toMatch(/<script[^>]+src=/); // nothing fetched: readable offline
  // The page's own script (after the inlined Chart.js) parses.
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  expect(() => new Function(scripts[scripts.length - 1])).not.toThrow();
  if (chromium) {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-chromium-'));
    const dom = spawnSync(chromium, [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, '--dump-dom', `file://${path.join(out, 'report.html')}`], { encoding: 'utf8', timeout: 60000 });
    const drawn = /data-charts-drawn="(\d+)"/.exec(dom.stdout), total = /data-charts-total="(\d+)"/.exec(dom.stdout);
    expect(total?.[1]).toBe(signalChart ? '4' : '3');
    expect(drawn?.[1]).toBe(total?.[1]);
    fs.rmSync(profile, { recursive: true, force: true });
  }
  // Best-of-N at the start from its evaluation samples (4 problems x 16): with N = 1 every selector
  // picks the one sample, so PRM = ORM = the start's avg@8; the claims rows of the two algorithms run.
  const b = first!.tasks[0].bestOfN!;  // (results.json and results.md are the last run's)
  expect(b.sizes).toEqual([1, 2, 4, 8, 16]);
  expect(b).toMatchObject({ problems: 4, samplesPerProblem: 16, noiseSeeds: [0, 1], sameAsStart: true });
  expect(b.cpuSeconds.sampling).toBe(0);
  expect(second!.tasks[0].bestOfN).toEqual(b);
  expect(b.accuracy.prm[1]).toBeCloseTo(task.start.avg8, 12);
  expect(b.accuracy.orm[1]).toBeCloseTo(task.start.avg8, 12);
  expect(b.prmMinusOrm[1].mean).toBeCloseTo(0, 12);
  for (const N of b.sizes) for (const sel of ['prm', 'orm', 'majority'] as const) {
    expect(b.accuracy[sel][N]).toBeGreaterThanOrEqual(0);
    expect(b.accuracy[sel][N]).toBeLessThanOrEqual(task.start.passAtK[N] + 1e-12);  // a pick is right only where some sample is
  }
  expect(b.prmMinusOrm[16].n).toBe(4);
  const claims = first!.tasks[0].claims!;
  expect(claims.filter((c) => c.claim === 'b').map((c) => c.measure)).toEqual(['pass@1', 'pass@8', 'pass@16']);
  for (const c of claims.filter((c) => c.claim === 'b')) expect(c.diff!.n).toBe(2);
  for (const c of claims.filter((c) => c.claim === 'a' || c.claim === 'c')) expect(c.verdict).toBe('not run');
  for (const c of claims.filter((c) => c.claim === 'd')) expect(c.diff!.n).toBe(4);
  const md = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
  expect(md).toContain('### Claims');
  expect(md).toContain('### Best-of-N at the SFT start');
  expect(md).toMatch(/\| \(b\) PRL widens pass@n over GRPO \| pass@16 \| prl − grpo \| [+-]\d+\.\d \| /);
  // Drawn again (the start's key, seed and thread count unchanged): the same samples as its evaluation.
  const again = redrawn!.tasks[0].bestOfN!;
  expect(again.sameAsStart).toBe(true);
  expect(again.cpuSeconds.sampling).toBeGreaterThan(0);
  expect(again.accuracy).toEqual(b.accuracy);
  // The second run reused every finished cell and the best-of-N (files untouched) and reports the same numbers.
  expect(reused!.every((d) => d === 0)).toBe(true);
  expect(second!.tasks[0].algorithms.map((a) => a.avg8.mean)).toEqual(first!.tasks[0].algorithms.map((a) => a.avg8.mean));
  fs.rmSync(out, { recursive: true, force: true });
}, 600000);

test('learn --quick --jobs 2: the cells run in worker processes; the table reuses every one, PRL\'s with the η it computes', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-learn-jobs-'));
  const argv = ['--quick', '--task', 'arithmetic', '--algos', 'prl,grpo', '--jobs', '2', '--out', out];
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  const stderr = process.stderr.write;
  const messages: string[] = [];
  process.stderr.write = ((chunk: string | Uint8Array) => (messages.push(String(chunk)), true)) as typeof process.stderr.write;
  let r: LearnResults | null;
  try {
    r = await runLearn(argv);
  } finally {
    process.stdout.write = write;
    process.stderr.write = stderr;
  }
  // The workers made every cell (and the SFT start); this process only read them.
  expect(messages.filter((m) => /finished earlier, reusing it/.test(m))).toHaveLength(4);
  expect(messages.some((m) => /reusing the SFT start/.test(m))).toBe(true);
  const [task] = r!.tasks;
  expect(task.algorithms.map((a) => a.algo)).toEqual(['grpo', 'prl']);
  for (const seed of [0, 1]) {
    const cell = JSON.parse(fs.readFileSync(path.join(out, 'arithmetic', 'prl', `seed-${seed}`, 'result.json'), 'utf8')) as CellResult;
    expect(cell.prlEta).toBe(task.prlEta!.value);
  }
  expect(task.cost!.cells).toBe(4);
  expect(fs.existsSync(path.join(out, 'results.md'))).toBe(true);
  fs.rmSync(out, { recursive: true, force: true });
}, 600000);
