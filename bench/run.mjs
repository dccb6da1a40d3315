// run.mjs: `npm run bench` — runs every bench/<family>.bench.mjs with tinybench and prints one
// table: median time, the bytes each call must move, GB/s, the fraction of this machine's read
// bandwidth (a native probe, measured in the same run; for cuda rows, of an H100's), the time
// floor those bytes set on an H100 (3.35 TB/s), and where PyTorch is installed the same op in
// PyTorch with the speed ratio. CUDA rows appear with STEPRL_BACKEND=cuda on a machine with a GPU.
// Compute-bound rows (GFLOP/s) are also given as a fraction of an fp32 FMA peak probe measured in
// the same run; rows that run in a process of their own (`external`: the model steps, whose peak
// resident memory is their own) add peak memory and state bytes, with PyTorch's beside them.
// Usage: npm run bench [-- <family>...] [--quick] [--json <file>]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Bench } from 'tinybench';

import { H100_BYTES_PER_SECOND, root, steprl } from './common.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonFile = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
const only = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1] === '--json'));
const python = process.env.STEPRL_TORCH_PYTHON ?? '/usr/bin/python3';

const files = fs.readdirSync(path.join(root, 'bench')).filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)));

const suite = { tasks: [], notes: [], add(task) { this.tasks.push(task); } };
const cleanups = [];
for (const file of files) {
  const mod = await import(path.join(root, 'bench', file));
  cleanups.push(mod.register(suite, { quick }));
  if (mod.note) suite.notes.push(mod.note);
}

const info = steprl.backendInfo();
const bandwidthBefore = steprl.probeReadBandwidth(512 * 2 ** 20, 7);
const fmaBefore = steprl.probeFmaPeak(300, 5);
console.log(`steprl ${info.backend} backend, SIMD ${info.simd}, ${info.threads} threads; read bandwidth probe ${bandwidthBefore.toFixed(1)} GB/s; FMA peak probe ${fmaBefore.toFixed(0)} GFLOP/s`);
const gpu = steprl.cudaInfo();
if (gpu !== null) {
  console.log(gpu.deviceCount > 0 && !gpu.simulated
    ? `CUDA: ${gpu.name} (sm_${gpu.computeCapability.replace('.', '')}, ${(gpu.totalMemory / 2 ** 30).toFixed(0)} GiB): cuda rows included`
    : `CUDA: ${gpu.simulated ? 'the simulator (no GPU timing)' : `no device (${gpu.error})`}: no cuda rows`);
}

const rows = [];
const externalOf = (name) => rows.find((r) => r.task.name === name)?.external;
for (const task of suite.tasks) {
  let extra = null;
  if (task.external !== undefined) {  // timed in a process of its own
    const external = await task.external();
    rows.push({ task, median: external.medianMs, extra: null, external });
    process.stdout.write('.');
    continue;
  }
  if (task.extraBytes !== undefined) {
    const before = steprl.hostMemory().liveBytes;
    const result = task.run();
    extra = steprl.hostMemory().liveBytes - before;
    task.dispose?.(result);
  }
  // Heavy rows (seconds per call) set their own small counts.
  const bench = new Bench({ time: task.time ?? (quick ? 300 : 2000), iterations: task.iterations ?? (quick ? 3 : 10), warmupIterations: task.warmup ?? 2 });
  // Async rows (model steps) are awaited; sync rows stay sync so tinybench times them tightly.
  const isAsync = task.run.constructor.name === 'AsyncFunction';
  bench.add(task.name, isAsync
    ? async () => {
      const result = await task.run();
      task.dispose?.(result);
    }
    : () => {
      const result = task.run();
      task.dispose?.(result);
    });
  await bench.run();
  const result = bench.tasks[0].result;
  if (result.state !== 'completed') throw new Error(`bench ${task.name} ${result.state}: ${result.error?.stack ?? ''}`);
  const median = result.latency.p50;
  rows.push({ task, median, extra });
  process.stdout.write('.');
}
process.stdout.write('\n');
const bandwidthAfter = steprl.probeReadBandwidth(512 * 2 ** 20, 7);
const bandwidth = Math.max(bandwidthBefore, bandwidthAfter);
const fmaPeak = Math.max(fmaBefore, steprl.probeFmaPeak(300, 5));

let torch = null;
const torchJobs = suite.tasks.filter((t) => t.torch).map((t) => ({ name: t.name, ...t.torch }));
if (torchJobs.length > 0 && spawnSync(python, ['-c', 'import torch']).status === 0) {
  const run = spawnSync(python, [path.join(root, 'bench', 'torch_bench.py')], { input: JSON.stringify(torchJobs), encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status === 0) torch = JSON.parse(run.stdout);
  else console.warn(`PyTorch side-by-side failed: ${run.stderr.split('\n').slice(-3).join(' ')}`);
} else if (torchJobs.length > 0) {
  console.warn(`PyTorch not found for ${python}: no side-by-side column (apt-get install python3-torch)`);
}

const fmt = (x, digits = 2) => (x === null || x === undefined ? '' : x.toFixed(digits));
const lines = [];
// "% of BW": of this machine's read probe for cpu rows, of the H100's 3.35 TB/s for cuda rows.
// "H100 floor": the bytes the kernel must move at 3.35 TB/s, for every row (cpu rows included), so
// a GPU user can compare a measured CUDA time with the least it can take.
// A compute-bound row states `flops` (its GFLOP/s column) instead of, or besides, `bytes`; a model
// row states `tokens` (its tokens/s column).
lines.push(`| task | median ms | MB moved | GB/s | % of BW | H100 floor µs | GFLOP/s | tokens/s | extra host memory | torch ms | speedup vs torch |`);
lines.push(`|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
for (const { task, median, extra } of rows) {
  const gbs = task.bytes === undefined ? null : task.bytes / (median * 1e6);
  const t = torch?.results[task.name] ?? externalOf(task.name)?.torchMs;
  const cuda = task.name.includes('/cuda/');
  const share = gbs === null ? '' : cuda ? `${fmt((100 * gbs * 1e9) / H100_BYTES_PER_SECOND, 0)}% of H100` : `${fmt((100 * gbs) / bandwidth, 0)}%`;
  const floor = task.bytes === undefined ? null : (task.bytes / H100_BYTES_PER_SECOND) * 1e6;
  const gflops = task.flops === undefined ? null : task.flops / (median * 1e6);
  const tokens = task.tokens === undefined ? null : task.tokens / (median / 1e3);
  lines.push(`| ${task.name} | ${fmt(median, 3)} | ${task.bytes === undefined ? '' : fmt(task.bytes / 1e6, 1)} | ${fmt(gbs, 1)} | ${share} | ${fmt(floor, 1)} | ${fmt(gflops, 0)} | ${fmt(tokens, 0)} | ${extra === null ? '' : `${(extra / 1024).toFixed(0)} KiB`} | ${fmt(t, 3)} | ${t ? `${fmt(t / median, 1)}x` : ''} |`);
}
console.log(`\nread bandwidth (best of the probes before and after): ${bandwidth.toFixed(1)} GB/s; FMA peak ${fmaPeak.toFixed(0)} GFLOP/s` +
  (torch ? `; PyTorch ${torch.torch}, ${torch.threads} threads` : ''));
console.log(lines.join('\n'));
const gb = (x) => (x === null || x === undefined ? '' : (x / 1e9).toFixed(2));
const externalRows = rows.filter((r) => r.external);
if (externalRows.length > 0) {
  console.log('\n| task | median ms | tokens/s | GFLOP/s | % of FMA peak | peak RSS GB | state GB | above state GB | torch tokens/s | torch peak GB | torch above state GB | speedup | memory above state: torch / steprl |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const { task, median, external: e } of externalRows) {
    const above = e.peakRssBytes - e.stateBytes, torchAbove = e.torchPeakRssBytes ? e.torchPeakRssBytes - e.stateBytes : null;
    const gflops = task.flops / (median * 1e6);
    console.log(`| ${task.name} | ${fmt(median, 0)} | ${fmt(task.tokens / (median / 1e3), 1)} | ${fmt(gflops, 0)} | ${fmt((100 * gflops) / fmaPeak, 0)}% | ${gb(e.peakRssBytes)} | ${gb(e.stateBytes)} | ${gb(above)} | ${e.torchMs ? fmt(task.tokens / (e.torchMs / 1e3), 1) : ''} | ${gb(e.torchPeakRssBytes)} | ${gb(torchAbove)} | ${e.torchMs ? `${fmt(e.torchMs / median, 2)}x` : ''} | ${torchAbove ? `${fmt(torchAbove / above, 2)}x` : ''} |`);
  }
}
for (const note of suite.notes) console.log(`\n${typeof note === 'function' ? note() : note}`);

const jsonRows = rows.map(({ task, median, external: e }) => {
  const torchMs = torch?.results[task.name] ?? e?.torchMs ?? null;
  const gflops = task.flops === undefined ? null : task.flops / (median * 1e6);
  return {
    name: task.name, medianMs: median, tokensPerSecond: task.tokens === undefined ? null : task.tokens / (median / 1e3),
    gflops, fractionOfFmaPeak: gflops === null ? null : gflops / fmaPeak, peakBytes: e?.peakRssBytes ?? null,
    stateBytes: e?.stateBytes ?? null, torchMs, torchPeakBytes: e?.torchPeakRssBytes ?? null,
    ratio: torchMs === null ? null : torchMs / median,
    ...(e?.json ?? {}),  // an external row's own fields (grpo_step: wall/CPU seconds, cores busy)
  };
});
if (jsonFile !== null) {
  fs.writeFileSync(path.resolve(jsonFile), JSON.stringify({ date: new Date().toISOString(), info, bandwidth, fmaPeak, torch: torch ? { version: torch.torch, threads: torch.threads } : null, rows: jsonRows }, null, 2));
  console.log(`\nrows written to ${jsonFile}`);
}
const out = path.join(root, 'build', 'bench-results.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), info, bandwidth, torch, rows: rows.map((r) => ({ name: r.task.name, medianMs: r.median, bytes: r.task.bytes, flops: r.task.flops, h100FloorMs: r.task.bytes === undefined ? null : (r.task.bytes / H100_BYTES_PER_SECOND) * 1e3, extraBytes: r.extra, torchMs: torch?.results[r.task.name] ?? null })) }, null, 2));
for (const cleanup of cleanups) cleanup?.();
