#!/usr/bin/env node
// test.mjs: `npm test` — every test on every device this machine can run, in three steps (after
// compiling lib/ to dist/, which the CLI and package tests run):
//   1. the whole jest suite with the CPU addon (build/Release, what `npm install` builds);
//   2. the device suites (jest project "devices", declared in jest.config.js) again on device
//      'cuda' through the SIMT simulator (STEPRL_BACKEND=cuda-sim, STEPRL_TEST_DEVICES=cuda),
//      building build-cuda-sim/ first when it is missing or older than its sources (cmake-js,
//      STEPRL_CUDA=SIM);
//   3. `check:cuda` (nvcc compile of every kernel: no spills, 16-byte loads) when nvcc is present.
// Exits non-zero when any step fails. Arguments go to both jest runs (e.g. a test path filter).
// STEPRL_TEST_SIM=0 skips step 2 (and its build); STEPRL_TEST_CHECK_CUDA=0 skips step 3.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { jestProjectSuites, newestSource } from './sources.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const jest = require.resolve('jest/bin/jest');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const jestArgs = process.argv.slice(2);
const simAddon = path.join(root, 'build-cuda-sim', 'Release', 'steprl.node');
const cpuAddon = path.join(root, 'build', 'Release', 'steprl.node');

const steps = [];
const started = Date.now();
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

function run(title, command, argv, env = {}) {
  const shown = [command === process.execPath ? 'node' : command, ...argv.map((a) => (path.isAbsolute(a) ? path.relative(root, a) : a))];
  console.log(`\n=== npm test: ${title}\n    ${shown.join(' ')}`);
  const t0 = Date.now();
  const result = spawnSync(command, argv, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  const ok = result.status === 0;
  steps.push({ title, ok, ms: Date.now() - t0, note: result.error ? String(result.error) : ok ? '' : `exit ${result.status ?? result.signal}` });
  return ok;
}

// 0. dist/ is what the CLI and package tests run: compile it from lib/ first so it is never stale.
run('compile TypeScript (dist/)', process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')]);
// ts-jest only transpiles (isolatedModules), so the tests' own types are checked here.
run('type-check the tests', process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.test.json')]);

// 1. CPU
if (fs.existsSync(cpuAddon)) {
  const newest = newestSource([path.join(root, 'include'), path.join(root, 'native')], [path.join(root, 'binding.gyp')]);
  if (newest.mtime > fs.statSync(cpuAddon).mtimeMs)
    console.log(`npm test: note: ${path.relative(root, cpuAddon)} is older than ${path.relative(root, newest.file)}; \`npm run build:native\` rebuilds it.`);
}
run('jest, CPU addon, every suite', process.execPath, [jest, ...jestArgs], { STEPRL_BACKEND: 'cpu' });

// 2. CUDA kernels on the simulator
if (process.env.STEPRL_TEST_SIM === '0') {
  steps.push({ title: 'jest, cuda-sim addon', ok: true, ms: 0, note: 'skipped (STEPRL_TEST_SIM=0)' });
} else {
  const newest = newestSource([path.join(root, 'include'), path.join(root, 'native'), path.join(root, 'cuda')], [path.join(root, 'CMakeLists.txt'), path.join(root, 'binding.gyp')]);
  let built = true;
  if (!fs.existsSync(simAddon) || fs.statSync(simAddon).mtimeMs < newest.mtime) {
    console.log(fs.existsSync(simAddon)
      ? `\nnpm test: ${path.relative(root, simAddon)} is older than ${path.relative(root, newest.file)}: rebuilding the CUDA simulator addon (cmake-js, STEPRL_CUDA=SIM).`
      : `\nnpm test: ${path.relative(root, simAddon)} is missing: building the CUDA simulator addon (cmake-js, STEPRL_CUDA=SIM; a minute or two).`);
    built = run('build the cuda-sim addon', process.execPath, [cmakeJs, 'compile', '--out', 'build-cuda-sim', '--CDSTEPRL_CUDA=SIM']);
  }
  // The suites that run per device (jest project "devices"); a path filter given to
  // `npm test -- <filter>` narrows them, other jest flags pass through.
  const filters = jestArgs.filter((a) => !a.startsWith('-'));
  const flags = jestArgs.filter((a) => a.startsWith('-'));
  const deviceSuites = jestProjectSuites(root, 'devices')
    .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f) || new RegExp(f).test(file)));
  if (built && deviceSuites.length === 0) {
    steps.push({ title: 'jest, cuda-sim addon', ok: true, ms: 0, note: `no device suite matches ${filters.join(' ')}` });
  } else if (built) {
    run(`jest, cuda-sim addon, ${deviceSuites.length} device suites on device cuda`, process.execPath,
      [jest, ...flags, '--runTestsByPath', ...deviceSuites],
      // STEPRL_SIM_ALIGN=16: allocations end at most 15 bytes before their guard page (instead of
      // 255), so more out-of-bounds reads fault, and bases are not 256-byte aligned: the kernels'
      // alignment handling is exercised beyond what views do.
      { STEPRL_BACKEND: 'cuda-sim', STEPRL_TEST_DEVICES: 'cuda', STEPRL_SIM_ALIGN: process.env.STEPRL_SIM_ALIGN ?? '16' });
  }
}

// 3. nvcc compile check
if (process.env.STEPRL_TEST_CHECK_CUDA === '0') {
  steps.push({ title: 'check:cuda', ok: true, ms: 0, note: 'skipped (STEPRL_TEST_CHECK_CUDA=0)' });
} else {
  const nvcc = process.env.CUDACXX || 'nvcc';
  const probe = spawnSync(nvcc, ['--version']);
  if (probe.error || probe.status !== 0) {
    console.log(`\nnpm test: nvcc not found (${nvcc}): check:cuda is skipped, so the kernels were not compiled for a GPU here.`);
    steps.push({ title: 'check:cuda', ok: true, ms: 0, note: 'skipped: no nvcc' });
  } else {
    run('check:cuda (nvcc sm_90: spills, stack, 16-byte loads)', process.execPath, [path.join(root, 'scripts', 'check-cuda.mjs'), '--quiet']);
  }
}

console.log(`\n=== npm test summary (${seconds(Date.now() - started)})`);
for (const s of steps) console.log(`  ${s.ok ? 'ok  ' : 'FAIL'}  ${s.title}  ${seconds(s.ms)}${s.note ? `  (${s.note})` : ''}`);
process.exit(steps.every((s) => s.ok) ? 0 : 1);
