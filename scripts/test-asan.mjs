#!/usr/bin/env node
// test-asan.mjs: `npm run test:asan` — the native code under AddressSanitizer and UBSan.
//   1. builds the CPU addon into build-asan/ and the CUDA-simulator addon into
//      build-cuda-sim-asan/ with -fsanitize=address,undefined (cmake-js, STEPRL_SANITIZE; each only
//      when missing or older than its sources), and compiles lib/ to dist/ (the model suite's
//      child processes run it);
//   2. runs jest in band, with node preloading the ASan runtime the addon links, over the suites
//      that drive native code: test/ops (the malformed-input tests of every op and of the addon's
//      entry points included: malformed_native.test.ts), test/core/tensor.test.ts, test/device and
//      test/model, once with the CPU addon (every SIMD level) and once with the simulator addon on
//      device cuda (there, like npm test, the suites that use test/util/devices.ts).
// Any sanitizer report fails the run: reports halt the process (ASan halt_on_error, UBSan built
// with -fno-sanitize-recover=all), and the output is also scanned for report headers. Leak
// detection is off: node itself does not free everything at exit.
// Arguments go to both jest runs (e.g. a path filter). STEPRL_ASAN_SIM=0 skips the simulator run.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { jestProjectSuites, newestSource } from './sources.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const jest = require.resolve('jest/bin/jest');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const tsc = require.resolve('typescript/bin/tsc');
const jestArgs = process.argv.slice(2);
const SANITIZE = 'address,undefined';
const builds = [
  { title: 'CPU addon', out: 'build-asan', defines: [] },
  { title: 'cuda-sim addon', out: 'build-cuda-sim-asan', defines: ['--CDSTEPRL_CUDA=SIM'] },
];
if (process.env.STEPRL_ASAN_SIM === '0') builds.pop();

const steps = [];
const started = Date.now();
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
// A sanitizer report, whatever the process did afterwards.
const REPORT = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error: |SUMMARY: (Address|UndefinedBehavior)Sanitizer/;

function runStep(title, argv, env = {}) {
  console.log(`\n=== test:asan: ${title}\n    node ${argv.map((a) => (path.isAbsolute(a) ? path.relative(root, a) : a)).join(' ')}`);
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let reported = false;
    let tail = '';
    const watch = (stream, sink) => stream.on('data', (chunk) => {
      sink.write(chunk);
      const text = tail + chunk.toString('utf8');
      if (REPORT.test(text)) reported = true;
      tail = text.slice(-200);
    });
    watch(child.stdout, process.stdout);
    watch(child.stderr, process.stderr);
    child.on('close', (code, signal) => {
      const ok = code === 0 && !reported;
      steps.push({ title, ok, ms: Date.now() - t0, note: reported ? 'sanitizer report' : ok ? '' : `exit ${code ?? signal}` });
      resolve(ok);
    });
  });
}

/** The ASan runtime the addon was linked against (node must load it first: LD_PRELOAD). */
function asanRuntime(addon) {
  const ldd = spawnSync('ldd', [addon], { encoding: 'utf8' });
  const line = (ldd.stdout ?? '').split('\n').find((l) => /libasan\.so/.test(l));
  const found = line?.match(/=>\s*(\S+)/)?.[1];
  if (found && fs.existsSync(found)) return found;
  const cc = spawnSync(process.env.CXX || 'c++', ['-print-file-name=libasan.so'], { encoding: 'utf8' });
  const guess = cc.stdout?.trim();
  if (guess && path.isAbsolute(guess) && fs.existsSync(guess)) return fs.realpathSync(guess);
  throw new Error(`test:asan: cannot find the libasan runtime of ${addon} (ldd: ${ldd.stdout ?? ldd.error})`);
}

const suites = () => {
  const filters = jestArgs.filter((a) => !a.startsWith('-'));
  return [
    ...['ops', 'device', 'model'].flatMap((dir) => {
      const folder = path.join(root, 'test', dir);
      return fs.existsSync(folder) ? fs.readdirSync(folder).filter((f) => f.endsWith('.test.ts')).map((f) => path.join(folder, f)) : [];
    }),
    path.join(root, 'test', 'core', 'tensor.test.ts'),
  ].filter((file) => filters.length === 0 || filters.some((f) => file.includes(f) || new RegExp(f).test(file)));
};

let ok = await runStep('compile TypeScript (dist/)', [tsc, '-p', path.join(root, 'tsconfig.json')]);

const newest = newestSource([path.join(root, 'include'), path.join(root, 'native'), path.join(root, 'cuda')], [path.join(root, 'CMakeLists.txt'), path.join(root, 'binding.gyp')]);
for (const build of builds) {
  const addon = path.join(root, build.out, 'Release', 'steprl.node');
  build.addon = addon;
  if (fs.existsSync(addon) && fs.statSync(addon).mtimeMs >= newest.mtime) continue;
  build.ok = await runStep(`build the ${build.title} with -fsanitize=${SANITIZE} (${build.out}/)`,
    [cmakeJs, 'compile', '--out', build.out, ...build.defines, `--CDSTEPRL_SANITIZE=${SANITIZE}`]);
  ok &&= build.ok;
}

const flags = jestArgs.filter((a) => a.startsWith('-'));
for (const build of builds) {
  if (build.ok === false) continue;
  const sim = build.out.includes('sim');
  // On the simulator, the device suites only (jest project "devices"), as in npm test.
  const deviceSuites = sim ? new Set(jestProjectSuites(root, 'devices')) : null;
  const files = suites().filter((f) => !sim || deviceSuites.has(f));
  if (files.length === 0) {
    steps.push({ title: `jest, ${build.title}`, ok: true, ms: 0, note: 'no suite matches the filter' });
    continue;
  }
  const env = {
    STEPRL_BINARY: build.addon,
    LD_PRELOAD: [asanRuntime(build.addon), process.env.LD_PRELOAD].filter(Boolean).join(':'),
    // detect_leaks=0: node leaks at exit by design. allow_user_segv_handler: the simulator reports
    // its guard-page faults itself, then hands them on.
    ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1:abort_on_error=0:allow_user_segv_handler=1:detect_stack_use_after_return=0:print_summary=1',
    UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1:print_summary=1',
    // The simulator run tests device cuda only (the cpu cases ran in the CPU run).
    ...(sim ? { STEPRL_TEST_DEVICES: 'cuda', STEPRL_SIM_ALIGN: process.env.STEPRL_SIM_ALIGN ?? '16' } : {}),
  };
  ok = (await runStep(`jest under ASan+UBSan, ${build.title}, ${files.length} suites${sim ? ' on device cuda' : ''}`,
    [jest, '--runInBand', ...flags, '--runTestsByPath', ...files], env)) && ok;
}

console.log(`\n=== test:asan summary (${seconds(Date.now() - started)})`);
for (const s of steps) console.log(`  ${s.ok ? 'ok  ' : 'FAIL'}  ${s.title}  ${seconds(s.ms)}${s.note ? `  (${s.note})` : ''}`);
process.exit(ok && steps.every((s) => s.ok) ? 0 : 1);
