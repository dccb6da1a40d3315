#!/usr/bin/env node
// kernel-resources.mjs: the per-kernel resource table (docs/KERNELS.md is its output).
//
// Compiles cuda/*.cu (or the files named) once with nvcc for sm_80 and sm_90
// (`-gencode ... -O3 -Xptxas -v --keep`, the build's -fmad=false where a file asks for it) and
// prints, per kernel instantiation, as a Markdown table:
//   - registers on sm_80 and sm_90, static shared memory and spill bytes (stores + loads) from ptxas;
//   - the threads per block it is launched with and the dynamic shared memory its launcher requests:
//     from LAUNCHES below, a table that mirrors the launcher code (each entry names the source it
//     follows); a kernel without an entry is launched with at most its __launch_bounds__ (read
//     from the PTX's .maxntid; the simulator refuses more) and no dynamic shared memory (its file
//     declares none, checked here);
//   - the theoretical occupancy on an H100 (sm_90): 65,536 registers, 2,048 threads, 32 blocks and
//     228 KiB of shared memory per SM (227 KiB usable by one block, 1 KiB reserved per block),
//     registers allocated per warp in units of 256.
// Without nvcc it says so and exits 0.
// Usage: node scripts/kernel-resources.mjs [--out docs/KERNELS.md] [--jobs N] [cuda/x.cu ...]
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const option = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const out = option('--out');
const jobs = Number(option('--jobs') ?? 2);
const named = argv.filter((a, i) => !a.startsWith('--') && !['--out', '--jobs'].includes(argv[i - 1]));
const ARCHS = ['sm_80', 'sm_90'];

// ---- launch configurations (threads per block, dynamic shared bytes), mirroring the launchers ----

// cuda/attention.cu + attention_tile.cuh: kRows = 32, rows padded by 4 floats, [32][33] score tiles.
function attentionShared(kind, kD, kThreads) {
  const tile = 32 * (kD + 4), score = 32 * 33;
  const floats = kind === 'forward' ? 3 * tile + score : kind === 'dkdv' ? 4 * tile + 2 * score + 3 * 32 : 4 * tile + score;
  return floats * 4;
}
const attention = (kind) => (name) => {
  const m = name.match(/<(\d+), (\d+)>/);
  return { threads: +m[2], dynamic: attentionShared(kind, +m[1], +m[2]) };
};
// cuda/gemm_bf16.cu: BK = 32, 8 bf16 of padding per shared row, 4 stages.
function gemmBf16(name) {
  const m = name.match(/^gemm_bf16_kernel<(\d+), (\d+), (\d+), (\d+), (true|false), (true|false), (true|false)(?:, (?:true|false))?>/);  // kATrans, kBTrans, kVec, kGlu
  const [BM, BN, WM, WN] = m.slice(1, 5).map(Number), aTrans = m[5] === 'true', bTrans = m[6] === 'true';
  const tileA = aTrans ? 32 * (BM + 8) : BM * (32 + 8), tileB = bTrans ? BN * (32 + 8) : 32 * (BN + 8);
  return { threads: 32 * WM * WN, dynamic: 4 * (tileA + tileB) * 2 };
}
// cuda/flash_attention.cu and flash_attention_backward.cu: 4 warps; rows of kD + 8 bf16; forward: a
// 64-row Q tile + 2 stages of 64-key K and V tiles; backward: two 64-row tiles + 2 stages of two
// 32-row tiles + per-stage row info.
function flashAttention(kind) {
  return (name) => {
    const kD = +name.match(/<(\d+)>/)[1], stride = kD + 8;
    const dynamic = kind === 'forward'
      ? (64 * stride + 2 * 2 * 64 * stride) * 2
      : (2 * 64 * stride + 2 * 2 * 32 * stride) * 2 + 2 * 32 * (8 + 2 * 4);
    return { threads: 128, dynamic };
  };
}
const LAUNCHES = [
  { kernel: /^attention_forward_kernel</, launch: attention('forward'), source: 'attention.cu forward_shared<kD, kThreads>()' },
  { kernel: /^attention_dkdv_kernel</, launch: attention('dkdv'), source: 'attention.cu dkdv_shared<kD, kThreads>()' },
  { kernel: /^attention_dq_kernel</, launch: attention('dq'), source: 'attention.cu dq_shared<kD, kThreads>()' },
  { kernel: /^attention_delta_kernel/, launch: () => ({ threads: 256, dynamic: 0 }), source: 'attention.cu 256, no dynamic smem' },
  { kernel: /^flash_attention_forward_kernel</, launch: flashAttention('forward'), source: 'flash_attention.cu FlashTile<kD>::kSharedBytes, 128 threads' },
  { kernel: /^flash_attention_(dkdv|dq)_kernel</, launch: flashAttention('backward'), source: 'flash_attention_backward.cu BackwardTile<kD>::kSharedBytes, 128 threads' },
  { kernel: /^flash_attention_delta_kernel/, launch: () => ({ threads: 256, dynamic: 0 }), source: 'flash_attention_backward.cu 256, no dynamic smem' },
  { kernel: /^widen_bf16_kernel/, launch: () => ({ threads: 256, dynamic: 0 }), source: 'flash_attention.cu 256, no dynamic smem' },
  { kernel: /^gemm_bf16_kernel</, launch: gemmBf16, source: 'gemm_bf16.cu Cfg: 4 stages x (A + B tiles) bf16' },
  // rope_cuda: D floats of cos/sin table; shown for head size 128 (at most kRopeMaxHeadDim = 8192).
  { kernel: /^rope_kernel</, launch: () => ({ threads: 256, dynamic: 128 * 4 }), source: 'rope.cu D * 4 B (D = 128 shown)' },
  { kernel: /^fill_words_kernel</, launch: () => ({ threads: 256, dynamic: 0 }), source: 'device.cu threads = 256' },
  { kernel: /^gae_whiten_kernel</, launch: () => ({ threads: 256, dynamic: 0 }), source: 'gae.cu 256' },
  { kernel: /^reinforce_normalize_kernel</, launch: () => ({ threads: 256, dynamic: 0 }), source: 'reinforce_advantage.cu 256' },
  // column_sum.cuh's static `lanes` tile only; included by files that also have dynamic shared memory.
  { kernel: /^column_partial_kernel</, launch: () => ({ threads: 256, dynamic: 0 }), source: 'column_sum.cuh kThreads = 256' },
  { kernel: /^column_finish_kernel/, launch: () => ({ threads: 256, dynamic: 0 }), source: 'column_sum.cuh 256' },
  { kernel: /^group_keys_kernel/, launch: () => ({ threads: 256, dynamic: 0 }), source: 'group_sort.cuh 256' },
  { kernel: /^bitonic_step_kernel/, launch: () => ({ threads: 256, dynamic: 0 }), source: 'group_sort.cuh 256' },
];

// ---- H100 occupancy -------------------------------------------------------------------------------

export function occupancyH100(registers, sharedBytes, threads) {
  const warps = Math.ceil(threads / 32);
  const regsPerWarp = Math.ceil((Math.max(registers, 1) * 32) / 256) * 256;
  const byRegs = Math.floor(Math.floor(65536 / regsPerWarp) / warps);
  const bySmem = sharedBytes > 227 * 1024 ? 0 : Math.floor((228 * 1024) / (sharedBytes + 1024));
  const byThreads = Math.floor(2048 / (warps * 32));
  const blocks = Math.min(byRegs, bySmem, byThreads, 32);
  const limiter = blocks === byThreads ? 'threads' : blocks === byRegs ? 'registers' : blocks === bySmem ? 'shared memory' : 'blocks';
  return { blocks, warps: blocks * warps, fraction: (blocks * warps) / 64, limiter };
}

// ---- compiling and parsing ----------------------------------------------------------------------

function compile(nvcc, file, work) {
  const stem = path.basename(file, '.cu');
  const keep = path.join(work, stem);
  fs.mkdirSync(keep, { recursive: true });
  const args = ['-std=c++17', '-O3', '-Xptxas', '-v', '--keep', '--keep-dir', keep, '-I', path.join(root, 'cuda')];
  for (const arch of ARCHS) args.push('-gencode', `arch=compute_${arch.slice(3)},code=${arch}`);
  args.push('-c', file, '-o', path.join(keep, `${stem}.o`));
  if (/^\/\/ steprl-build: -fmad=false/m.test(fs.readFileSync(file, 'utf8'))) args.push('-fmad=false');
  return new Promise((resolve) => {
    const child = spawn(nvcc, args, { cwd: keep });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.on('close', (status) => {
      const ptx = fs.readdirSync(keep).filter((f) => f.endsWith('.ptx')).map((f) => fs.readFileSync(path.join(keep, f), 'utf8'));
      resolve({ file, status, output, ptx: ptx.join('\n') });
    });
  });
}

// ptxas -v, per entry and arch: "Compiling entry function 'X' for 'sm_90'", then spill/register lines.
function parseReport(output) {
  const entries = new Map();  // mangled -> { sm_80: {...}, sm_90: {...} }
  let current = null, currentName = null;
  for (const line of output.split('\n')) {
    let m = line.match(/Compiling entry function '([^']+)' for '(sm_\d+)'/);
    if (m) {
      if (!entries.has(m[1])) entries.set(m[1], {});
      current = { registers: null, smem: 0, spillStores: 0, spillLoads: 0 };
      currentName = m[1];
      entries.get(m[1])[m[2]] = current;
      continue;
    }
    // A called (not inlined) device function's own record: not the kernel's.
    if ((m = line.match(/Function properties for (\S+)/)) && m[1] !== currentName) current = null;
    if (current === null) continue;
    if ((m = line.match(/(\d+) bytes spill stores, (\d+) bytes spill loads/))) {
      current.spillStores = +m[1];
      current.spillLoads = +m[2];
    }
    if ((m = line.match(/Used (\d+) registers/))) current.registers = +m[1];
    if ((m = line.match(/(\d+) bytes smem/))) current.smem = +m[1];
  }
  return entries;
}

function maxThreadsFromPtx(ptx) {
  const bounds = new Map();
  for (const m of ptx.matchAll(/\.entry\s+([\w$]+)\s*\(([\s\S]*?)\)\s*((?:\.\w+[^\n{]*\n?\s*)*)\{/g)) {
    const n = m[3].match(/\.maxntid\s+(\d+),\s*(\d+),\s*(\d+)/);
    if (n) bounds.set(m[1], n[1] * n[2] * n[3]);
  }
  return bounds;
}

function demangle(names) {
  const run = spawnSync('c++filt', { input: names.join('\n'), encoding: 'utf8' });
  const outNames = run.status === 0 ? run.stdout.split('\n') : names;
  return names.map((_, i) => (outNames[i] ?? names[i]).replaceAll('(anonymous namespace)::', '')
    .replace(/\(.*$/, '').replace(/^void /, '').replace(/^(\w+::)+/, ''));
}

const kib = (bytes) => (bytes === 0 ? '0' : bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`);

export async function kernelResources(files, nvcc) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-kernel-resources-'));
  try {
    const results = [];
    const queue = [...files];
    await Promise.all(Array.from({ length: Math.max(1, jobs) }, async () => {
      while (queue.length) {
        const file = queue.shift();
        results.push(await compile(nvcc, file, work));
      }
    }));
    const rows = [];
    const problems = [];
    for (const r of results.sort((a, b) => a.file.localeCompare(b.file))) {
      if (r.status !== 0) throw new Error(`nvcc failed on ${r.file}:\n${r.output}`);
      const entries = parseReport(r.output);
      const bounds = maxThreadsFromPtx(r.ptx);
      const mangled = [...entries.keys()];
      const names = demangle(mangled);
      const fileHasDynamic = /STEPRL_DYNAMIC_SHARED\(/.test(fs.readFileSync(r.file, 'utf8'));
      mangled.forEach((m, i) => {
        const name = names[i];
        const e = entries.get(m);
        const table = LAUNCHES.find((l) => l.kernel.test(name));
        let launch, source;
        if (table) {
          launch = table.launch(name);
          source = table.source;
        } else if (bounds.has(m) && !fileHasDynamic) {
          launch = { threads: bounds.get(m), dynamic: 0 };
          source = '__launch_bounds__; no dynamic smem in its file';
        } else {
          problems.push(`${path.basename(r.file)}: ${name} has ${fileHasDynamic ? 'dynamic shared memory in its file' : 'no __launch_bounds__'} ` +
            'and no entry in LAUNCHES (scripts/kernel-resources.mjs): add how its launcher configures it');
          return;  // no row: its launch configuration is unknown
        }
        const sm90 = e.sm_90;
        if (!sm90 || sm90.registers === null) throw new Error(`${path.basename(r.file)}: no ptxas register report for ${name} on sm_90`);
        const occ = occupancyH100(sm90.registers, sm90.smem + launch.dynamic, launch.threads);
        rows.push({ file: path.basename(r.file), name, sm80: e.sm_80, sm90, launch, source, bound: bounds.get(m) ?? null, occ });
      });
    }
    return { rows, problems };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export function markdown(rows) {
  const lines = [
    '| file | kernel | regs sm_80 / sm_90 | static smem | spills st/ld (sm_90) | dynamic smem | threads/block | `__launch_bounds__` | launch config from | H100 blocks/SM | H100 occupancy (limiter) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|---:|---|',
  ];
  for (const r of rows) {
    const spill = `${r.sm90.spillStores}/${r.sm90.spillLoads}`;
    const bound = r.bound === null ? 'none' : r.bound;
    lines.push(`| ${r.file} | \`${r.name}\` | ${r.sm80 ? r.sm80.registers : '?'} / ${r.sm90.registers} | ${kib(r.sm90.smem)} | ${spill} | ` +
      `${kib(r.launch.dynamic)} | ${r.launch.threads} | ${bound} | ${r.source} | ${r.occ.blocks} | ` +
      `${Math.round(r.occ.fraction * 100)}% (${r.occ.limiter}) |`);
  }
  return lines.join('\n');
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const nvcc = process.env.CUDACXX || 'nvcc';
  const probe = spawnSync(nvcc, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    console.log(`kernel-resources: skipped: ${nvcc} was not found (install the CUDA toolkit or set CUDACXX).`);
    process.exit(0);
  }
  const version = (probe.stdout.match(/release [\d.]+, V[\d.]+/) ?? [probe.stdout.trim().split('\n').pop()])[0];
  const files = named.length
    ? named.map((f) => path.resolve(f))
    : fs.readdirSync(path.join(root, 'cuda')).filter((f) => f.endsWith('.cu')).sort().map((f) => path.join(root, 'cuda', f));
  try {
    const { rows, problems } = await kernelResources(files, nvcc);
    const table = markdown(rows);
    if (out) {
      const header = [
        '# Kernel resources',
        '',
        '<!-- Generated by `node scripts/kernel-resources.mjs --out docs/KERNELS.md`; do not edit by hand. -->',
        '',
        `Generated with nvcc ${version}, \`-O3\` for sm_80 and sm_90 (registers and spills from \`ptxas -v\`).`,
        'Static shared memory is what ptxas reports for sm_90. Dynamic shared memory and threads per',
        'block are what the launcher requests: from the table `LAUNCHES` in the script where the',
        'launcher computes them (the "launch config from" column names the source it mirrors),',
        'otherwise the kernel\'s `__launch_bounds__` (the most it is launched with; the simulator',
        'refuses more) and no dynamic shared memory. Occupancy is theoretical, for an H100 (sm_90):',
        '65,536 registers, 2,048 threads, 32 blocks and 228 KiB of shared memory per SM (1 KiB reserved',
        'per block), registers allocated per warp in units of 256; 100% = 64 warps.',
        '',
        '',
      ].join('\n');
      fs.writeFileSync(path.resolve(out), `${header}${table}\n`);
      console.log(`kernel-resources: wrote ${out}`);
    } else {
      console.log(table);
    }
    // Written anyway (the rows that are known), but a kernel left out fails the run.
    if (problems.length) throw new Error(`${problems.length} kernel(s) without a row:\n  ${problems.join('\n  ')}`);
  } catch (e) {
    console.error(`kernel-resources: ${e.message}`);
    process.exit(1);
  }
}
