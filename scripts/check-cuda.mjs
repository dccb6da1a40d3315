#!/usr/bin/env node
// check-cuda.mjs: `npm run check:cuda` — compiles every cuda/*.cu for sm_90 with
// `nvcc -arch=sm_90 -O3 -Xptxas -v --keep` (the kept .ptx is the PTX ptxas assembled), prints the
// ptxas report of each kernel, and fails when
//   - any kernel spills registers, has a stack frame, or uses local memory (lmem / .local);
//   - a memory-bound kernel's PTX lacks 128-bit global loads (ld.global*.v4), which is how the
//     16-byte vector loads are verified here (this machine's CUDA ships no cuobjdump);
//   - a tensor-core kernel's PTX lacks its tensor-core instructions (mma.sync, ldmatrix, cp.async).
// For the tensor-core kernels it also prints the occupancy on sm_90 computed from the ptxas
// registers, the shared memory and the block size (TENSOR_CORE below).
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
  // rmsnorm_forward_kernel<true, f32, bf16> and swiglu_forward_kernel<true, float | unsigned short>:
  // every output variant (float32, fused bf16, both) of the 16-byte path.
  'rmsnorm.cu': [/^rmsnorm_forward_kernel<true, /, /^rmsnorm_backward_kernel<true>/, /^column_partial_kernel<.*, true>/],
  'swiglu.cu': [/^swiglu_forward_kernel<true, /, /^swiglu_backward_kernel<true>/],
  'cast.cu': [/^cast_kernel<(\w+::)*Narrow, true>/, /^cast_kernel<(\w+::)*Widen, true>/],
  'rope.cu': [/^rope_kernel<true>/],
  'adamw.cu': [/^adamw_kernel/, /^grad_norm_partial_kernel/],
  'embedding.cu': [/^embedding_forward_kernel<true>/, /^embedding_backward_kernel<true>/],
  'matmul.cu': [/^sgemm_kernel<.*, true>/, /^column_partial_kernel<.*, true>/],
  'attention.cu': [/^attention_forward_kernel</, /^attention_dkdv_kernel</, /^attention_dq_kernel</, /^attention_delta_kernel/],
};

// Tensor-core kernels: each instantiation matching `kernel` must contain every PTX instruction in
// `ptx`; `launch(name)` gives its threads per block and dynamic shared memory (mirrors the Config
// of the .cu file) for the occupancy table.
const TENSOR_CORE = {
  'gemm_bf16.cu': [
    { kernel: /^gemm_bf16_kernel</, ptx: ['mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32', 'ldmatrix.sync.aligned.m8n8.x4', 'cp.async.wait_group'] },
    { kernel: /^gemm_bf16_kernel<.*, true, (true|false)>$/, ptx: ['cp.async.cg.shared.global'] },  // kVec (then kGlu, the SwiGLU epilogue)
  ],
  'flash_attention.cu': [
    { kernel: /^flash_attention_forward_kernel</, ptx: ['mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32', 'ldmatrix.sync.aligned.m8n8.x4',
      'cp.async.cg.shared.global', 'cp.async.wait_group'] },
  ],
  'flash_attention_backward.cu': [
    { kernel: /^flash_attention_(dkdv|dq)_kernel</, ptx: ['mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32', 'ldmatrix.sync.aligned.m8n8.x4',
      'cp.async.cg.shared.global', 'cp.async.wait_group'] },
  ],
};
// cuda/gemm_bf16.cu: BK = 32, 8 bf16 of padding per shared row, 4 stages.
function gemmBf16Launch(name) {
  const m = name.match(/^gemm_bf16_kernel<(\d+), (\d+), (\d+), (\d+), (true|false), (true|false), (true|false)(?:, (?:true|false))?>/);  // kATrans, kBTrans, kVec, kGlu
  if (!m) return null;
  const [BM, BN, WM, WN] = m.slice(1, 5).map(Number), aTrans = m[5] === 'true', bTrans = m[6] === 'true';
  const tileA = aTrans ? 32 * (BM + 8) : BM * (32 + 8), tileB = bTrans ? BN * (32 + 8) : 32 * (BN + 8);
  return { threads: 32 * WM * WN, dynamicSmem: 4 * (tileA + tileB) * 2 };
}
// cuda/flash_attention.cu (forward) and flash_attention_backward.cu (dk/dv, dq): 128 threads. Forward:
// (64 query rows + 2 stages x (K, V) x 64 keys) x (kD + 8) bf16. dk/dv and dq: (2 x 64 + 2 stages x
// 2 x 32 rows) x (kD + 8) bf16 + 1,024 B of row data.
function flashAttentionLaunch(name) {
  const m = name.match(/^flash_attention_(forward|dkdv|dq)_kernel<(\d+)>/);
  if (!m) return null;
  const row = (Number(m[2]) + 8) * 2;
  return { threads: 128, dynamicSmem: m[1] === 'forward' ? 5 * 64 * row : 256 * row + 1024 };
}
const LAUNCH = { 'gemm_bf16.cu': gemmBf16Launch, 'flash_attention.cu': flashAttentionLaunch, 'flash_attention_backward.cu': flashAttentionLaunch };

// sm_90 (H100): 65,536 registers, 2,048 threads, 32 blocks and 228 KiB shared memory per SM (1 KiB
// of it reserved per block); registers are allocated per warp in units of 256.
function occupancy(registers, smem, threads) {
  const warps = Math.ceil(threads / 32);
  const regsPerWarp = Math.ceil((registers * 32) / 256) * 256;
  const byRegs = Math.floor(65536 / (regsPerWarp * warps));
  const bySmem = Math.floor((228 * 1024) / (smem + 1024));
  const byThreads = Math.floor(2048 / threads);
  const blocks = Math.min(byRegs, bySmem, byThreads, 32);
  const limiter = blocks === byRegs ? 'registers' : blocks === bySmem ? 'shared memory' : 'threads';
  return { blocks, warps: blocks * warps, fraction: (blocks * warps) / 64, limiter };
}

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
      body,
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
const tensorRows = [];
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
    const tensorRules = k.function ? [] : (TENSOR_CORE[r.file] ?? []).filter((rule) => rule.kernel.test(name));
    for (const rule of tensorRules)
      for (const instruction of rule.ptx)
        if (!(body.body ?? '').includes(instruction)) problems.push(`no ${instruction} in its PTX (tensor-core kernel)`);
    if (tensorRules.length > 0) {
      const launch = LAUNCH[r.file]?.(name);
      if (launch && k.registers !== null)
        tensorRows.push({ name, k, launch, occ: occupancy(k.registers, k.smem + launch.dynamicSmem, launch.threads) });
    }
    for (const p of problems) failures.push(`${r.file}: ${name}: ${p}`);
    rows.push({ file: r.file, name, k, v4: body.v4Loads, memoryBound, ok: problems.length === 0 });
  });
  for (const rule of TENSOR_CORE[r.file] ?? [])
    if (!report.some((k, i) => !k.function && rule.kernel.test(names[i])))
      failures.push(`${r.file}: no kernel matches ${rule.kernel} (tensor-core kernel renamed? update TENSOR_CORE)`);
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
if (tensorRows.length > 0) {
  console.log(`\ncheck:cuda: tensor-core kernels, occupancy on sm_90 (64 warps, 65,536 registers, 228 KiB shared per SM)`);
  console.log('| kernel | registers | threads | shared (B) | blocks/SM | warps/SM | occupancy | limited by |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const { name, k, launch, occ } of tensorRows)
    console.log(`| ${name} | ${k.registers} | ${launch.threads} | ${k.smem + launch.dynamicSmem} | ${occ.blocks} | ${occ.warps} | ${(100 * occ.fraction).toFixed(0)}% | ${occ.limiter} |`);
}
fs.rmSync(work, { recursive: true, force: true });
if (failures.length > 0) {
  console.log(`\ncheck:cuda: FAILED (${failures.length}):\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('\ncheck:cuda: ok: no spills, no stack frames, no local memory; 128-bit loads in every memory-bound kernel; ' +
  'mma.sync, ldmatrix and cp.async in every tensor-core kernel.');
