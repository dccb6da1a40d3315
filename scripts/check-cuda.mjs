#!/usr/bin/env node
// check-cuda.mjs: `npm run check:cuda` — compiles every cuda/*.cu for sm_90 with
// `nvcc -arch=sm_90 -O3 -Xptxas -v --keep` (the kept .ptx is the PTX ptxas assembled), prints the
// ptxas report of each kernel, and fails when
//   - any kernel spills registers, has a stack frame, or uses local memory (lmem / .local);
//   - a memory-bound kernel's PTX lacks 128-bit global loads (ld.global*.v4), which is how the
//     16-byte vector loads are verified here (this machine's CUDA ships no cuobjdump).
// Without nvcc it says so and exits 0: there is nothing to check on a machine without CUDA.
// Usage: node scripts/check-cuda.mjs [--arch sm_90] [--quiet]
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arch = args.includes('--arch') ? args[args.indexOf('--arch') + 1] : 'sm_90';
const quiet = args.includes('--quiet');

// Kernels that stream a tensor through memory: each instantiation must use 16-byte loads.
const MEMORY_BOUND = {
  'token_logprobs.cu': [/^token_logprobs_forward_kernel</, /^token_logprobs_backward_kernel</],
  'kl_penalty.cu': [/^kl_penalty_kernel/],
  'policy_loss.cu': [/^policy_loss_tokens_kernel/],
  // Model kernels: their <true> instantiations are the 16-byte paths (taken when rows are aligned).
  'rmsnorm.cu': [/^rmsnorm_forward_kernel<true>/, /^rmsnorm_backward_kernel<true>/, /^column_partial_kernel<.*, true>/],
  'swiglu.cu': [/^swiglu_forward_kernel<true>/, /^swiglu_backward_kernel<true>/],
  'rope.cu': [/^rope_kernel<true>/],
  'adamw.cu': [/^adamw_kernel/, /^grad_norm_partial_kernel/],
  'embedding.cu': [/^embedding_forward_kernel<true>/, /^embedding_backward_kernel<true>/],
  'matmul.cu': [/^sgemm_kernel<.*, true>/, /^column_partial_kernel<.*, true>/],
  'attention.cu': [/^attention_forward_kernel</, /^attention_dkdv_kernel</, /^attention_dq_kernel</, /^attention_delta_kernel/],
};

const nvcc = process.env.CUDACXX || 'nvcc';
const probe = spawnSync(nvcc, ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  console.log(`check:cuda: skipped: ${nvcc} was not found (install the CUDA toolkit, put nvcc on PATH or set CUDACXX).`);
  console.log('check:cuda: nothing was compiled, so no register, spill or 16-byte-load claim is checked on this machine.');
  process.exit(0);
}
const version = probe.stdout.trim().split('\n').pop();

const files = fs.readdirSync(path.join(root, 'cuda')).filter((f) => f.endsWith('.cu')).sort();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-check-cuda-'));

function compile(file) {
  const stem = path.basename(file, '.cu');
  const keep = path.join(work, stem);
  fs.mkdirSync(keep, { recursive: true });
  const argv = ['-std=c++17', `-arch=${arch}`, '-O3', '-Xptxas', '-v', '--keep', '--keep-dir', keep,
    '-I', path.join(root, 'cuda'), '-c', path.join(root, 'cuda', file), '-o', path.join(keep, `${stem}.o`)];
  // The build's flag for files compared with the CPU bit for bit (cuda/cuda.cmake reads the same line).
  if (/^\/\/ steprl-build: -fmad=false/m.test(fs.readFileSync(path.join(root, 'cuda', file), 'utf8'))) argv.push('-fmad=false');
  return new Promise((resolve) => {
    const child = spawn(nvcc, argv, { cwd: keep });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.on('close', (status) => {
      const ptxFile = path.join(keep, `${stem}.ptx`);
      resolve({ file, status, output, ptx: fs.existsSync(ptxFile) ? fs.readFileSync(ptxFile, 'utf8') : '', argv });
    });
  });
}

function demangle(names) {
  const run = spawnSync('c++filt', { input: names.join('\n'), encoding: 'utf8' });
  const out = run.status === 0 ? run.stdout.split('\n') : names;
  // steprl::cuda::(anonymous namespace)::kernel<true>(float*, ...) -> kernel<true>
  return names.map((_, i) => (out[i] ?? names[i]).replaceAll('(anonymous namespace)::', '')
    .replace(/\(.*$/, '').replace(/^void /, '').replace(/^(\w+::)+/, ''));
}

// ptxas -v: per entry, "Compiling entry function 'X'", then stack/spill and register lines.
function parseReport(output) {
  const kernels = new Map();
  let current = null;
  for (const line of output.split('\n')) {
    let m = line.match(/Compiling entry function '([^']+)'/);
    if (m) {
      current = { mangled: m[1], registers: null, stack: 0, spillStores: 0, spillLoads: 0, lmem: 0, smem: 0, lines: [] };
      kernels.set(m[1], current);
      continue;
    }
    m = line.match(/Function properties for (\S+)/);
    if (m) {
      // A called (not inlined) device function, e.g. libdevice's __internal_accurate_pow, gets its
      // own record: its stack frame and spills count like a kernel's.
      if (!kernels.has(m[1]))
        kernels.set(m[1], { mangled: m[1], function: true, registers: null, stack: 0, spillStores: 0, spillLoads: 0, lmem: 0, smem: 0, lines: [] });
      current = kernels.get(m[1]);
    }
    if (current === null || !line.includes('ptxas') && !/bytes stack frame/.test(line)) continue;
    current.lines.push(line.trim());
    if ((m = line.match(/(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/))) {
      current.stack = +m[1];
      current.spillStores = +m[2];
      current.spillLoads = +m[3];
    }
    if ((m = line.match(/Used (\d+) registers/))) current.registers = +m[1];
    if ((m = line.match(/(\d+) bytes lmem/))) current.lmem = +m[1];
    if ((m = line.match(/(\d+) bytes smem/))) current.smem = +m[1];
  }
  return [...kernels.values()];
}

// The PTX body of each .entry, with its 128-bit global loads counted.
function parsePtx(ptx) {
  const bodies = new Map();
  const entries = [...ptx.matchAll(/\.entry\s+([\w$]+)\s*\(/g)];
  entries.forEach((m, i) => {
    const end = i + 1 < entries.length ? entries[i + 1].index : ptx.length;
    const body = ptx.slice(m.index, end);
    bodies.set(m[1], {
      v4Loads: (body.match(/ld\.global(\.[a-z0-9]+)*\.v4\./g) ?? []).length,
      local: /\.local\s/.test(body) || /\bld\.local|\bst\.local/.test(body),
    });
  });
  return bodies;
}

const results = [];
for (let i = 0; i < files.length; i += 2) results.push(...(await Promise.all(files.slice(i, i + 2).map(compile))));

const failures = [];
const rows = [];
for (const r of results) {
  if (r.status !== 0) {
    failures.push(`${r.file}: nvcc failed (exit ${r.status}):\n${r.output}`);
    continue;
  }
  const report = parseReport(r.output);
  const ptx = parsePtx(r.ptx);
  const names = demangle(report.map((k) => k.mangled));
  const required = MEMORY_BOUND[r.file] ?? [];
  const matched = new Set();
  report.forEach((k, i) => {
    const name = k.function ? `${names[i]} (called function)` : names[i];
    const body = ptx.get(k.mangled) ?? { v4Loads: 0, local: false };
    const problems = [];
    if (k.spillStores !== 0 || k.spillLoads !== 0) problems.push(`spills (${k.spillStores} B stores, ${k.spillLoads} B loads)`);
    if (k.stack !== 0) problems.push(`a ${k.stack}-byte stack frame`);
    if (k.lmem !== 0 || (!k.function && body.local)) problems.push('local memory');
    const memoryBound = !k.function && required.some((pattern, j) => pattern.test(name) && matched.add(j));
    if (memoryBound && body.v4Loads === 0) problems.push('no 128-bit global loads (ld.global*.v4) in its PTX');
    for (const p of problems) failures.push(`${r.file}: ${name}: ${p}`);
    rows.push({ file: r.file, name, k, v4: body.v4Loads, memoryBound, ok: problems.length === 0 });
  });
  required.forEach((pattern, j) => {
    if (!matched.has(j)) failures.push(`${r.file}: no kernel matches ${pattern} (memory-bound kernel renamed? update MEMORY_BOUND)`);
  });
  if (!quiet) {
    console.log(`\n== ${r.file}: ${nvcc} ${r.argv.join(' ')}`);
    for (const line of r.output.split('\n').filter((l) => /ptxas|bytes stack frame/.test(l))) console.log(`  ${line.trim()}`);
  }
}

console.log(`\ncheck:cuda: ${files.length} files, ${rows.length} kernels, ${arch}, ${version}`);
console.log('| kernel | file | registers | spill stores/loads (B) | stack (B) | smem (B) | ld.global*.v4 in PTX | |');
console.log('|---|---|---:|---:|---:|---:|---:|---|');
for (const { file, name, k, v4, memoryBound, ok } of rows)
  console.log(`| ${name} | ${file} | ${k.registers ?? ''} | ${k.spillStores}/${k.spillLoads} | ${k.stack} | ${k.smem} | ${v4}${memoryBound ? ' (required)' : ''} | ${ok ? 'ok' : 'FAIL'} |`);
fs.rmSync(work, { recursive: true, force: true });
if (failures.length > 0) {
  console.log(`\ncheck:cuda: FAILED (${failures.length}):\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('\ncheck:cuda: ok: no spills, no stack frames, no local memory; 128-bit loads in every memory-bound kernel.');
