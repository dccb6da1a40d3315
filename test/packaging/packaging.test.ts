// packaging.test.ts (slow: ~10-20 s): the package as npm users get it. `npm pack` of this checkout
// and of a staged @steprl/linux-x64-cuda, both installed into an empty folder with
// --ignore-scripts (no install script runs, so nothing can be compiled: the prebuild must load as
// shipped), then require('steprl') and import 'steprl' run an op; auto falls back to the CPU with
// one line when there is no driver, and when a (fake, empty) libcuda.so.1 makes the probe run and
// fail; steprl doctor explains it. Also: no debris in either tarball, versions pinned.
//
// The tarballs' registry dependencies (chart.js, node-addon-api, node-gyp-build and theirs) come
// from npm's cache when it has them and from the registry otherwise (--prefer-offline), pinned by
// the app's `overrides` to the versions in this checkout's package-lock.json: the test passes with
// an empty npm cache (npm_config_cache=$(mktemp -d)) and installs what CI tested.
//
// The release flow (`npm run pack`) puts a prebuildify build in prebuilds/; a checkout that has
// not run it gets a stand-in: build/Release/steprl.node (the same node-gyp build) copied into the
// packed tree under prebuildify's name, and the tarball re-packed. The CUDA tarball holds
// build-cuda/Release/steprl.node when it exists, else the CPU addon as a stand-in (with no driver
// the loader never loads it; with the fake driver the probe refuses it as "not a CUDA build").
// STEPRL_TEST_PACKAGING=0 skips this file.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { resolveCpuAddon } from '../../lib/binding';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { debrisIn, CUDA_PACKAGE_FILES } = require('../../scripts/package_contents.cjs') as { debrisIn(paths: string[]): string[]; CUDA_PACKAGE_FILES: string[] };

const root = path.resolve(__dirname, '..', '..');
const rootPackage = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const cudaPackage = JSON.parse(fs.readFileSync(path.join(root, 'packages', 'linux-x64-cuda', 'package.json'), 'utf8'));
const version: string = rootPackage.version;
const platformDir = `${process.platform}-${process.arch}`;
const prebuildName = process.platform === 'linux' ? 'steprl.glibc.node' : 'steprl.node';
const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';
const enabled = process.env.STEPRL_TEST_PACKAGING !== '0';
const describeSlow = enabled ? describe : describe.skip;

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-packaging-test-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

// npm run from inside `npm test` inherits npm_* variables (local prefix, lifecycle, package) that
// would point the inner npm at this checkout; keep only the cache location.
function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) || k === 'npm_config_cache') env[k] = v;
  for (const k of ['STEPRL_BACKEND', 'STEPRL_BINARY', 'STEPRL_TEST_DEVICES']) delete env[k];
  return { ...env, ...extra };
}

function npm(args: string[], cwd: string): string {
  const cli = process.env.npm_execpath;
  const [command, prefix] = cli && /\.[cm]?js$/.test(cli) ? [process.execPath, [cli]] : ['npm', []];
  const r = spawnSync(command, [...prefix, ...args], { cwd, encoding: 'utf8', env: cleanEnv(), timeout: 120_000 });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed in ${cwd}: ${r.error ?? r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

interface PackReport { filename: string; size: number; unpackedSize: number; files: { path: string; size: number }[] }
function pack(cwd: string, destination: string): PackReport {
  fs.mkdirSync(destination, { recursive: true });
  const stdout = npm(['pack', '--json', '--ignore-scripts', '--pack-destination', destination], cwd);
  const report = JSON.parse(stdout.slice(stdout.search(/^\[/m)))[0] as PackReport;
  return { ...report, filename: path.join(destination, report.filename) };
}

/**
 * name -> version for every package the published tarball depends on at run time (dependencies and
 * theirs, transitively), as package-lock.json resolved them; the workspace CUDA package is the
 * tarball itself, not a registry package.
 */
function lockedDependencies(): Record<string, string> {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; link?: boolean; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }>;
  };
  const pinned: Record<string, string> = {};
  // Node's lookup: the nearest node_modules/<name> walking up from the dependent's folder.
  const locate = (from: string, name: string): string | undefined => {
    for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
      const key = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
      if (lock.packages[key] !== undefined) return key;
      if (dir === '') return undefined;
    }
  };
  const visit = (from: string, deps: Record<string, string> | undefined) => {
    for (const name of Object.keys(deps ?? {})) {
      const key = locate(from, name);
      const entry = key === undefined ? undefined : lock.packages[key];
      if (key === undefined || entry === undefined || entry.link || entry.version === undefined || pinned[name] !== undefined) continue;
      pinned[name] = entry.version;
      visit(key, { ...entry.dependencies, ...entry.optionalDependencies });
    }
  };
  visit('', rootPackage.dependencies);
  return pinned;
}

let main: PackReport;
let cuda: PackReport;
let prebuildSource = 'prebuilds/ (npm run prebuilds)';
let cudaSource = 'build-cuda/Release/steprl.node';
const app = path.join(work, 'app');

function node(args: string[], env: Record<string, string | undefined> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, args, { cwd: app, encoding: 'utf8', env: cleanEnv({ STEPRL_CACHE_DIR: path.join(work, 'cache'), ...env }) });
}

const opScript = (load: string) => `${load}
const out = ops.tokenLogprobs(Tensor.from([0, 0, 0, Math.log(3)], [2, 2]), Tensor.from([1, 0], [2], { dtype: 'int32' }));
console.log(JSON.stringify({ backend: backendInfo().backend, source: backendInfo().source, logprobs: Array.from(out.logprobs.toArray()) }));`;
const expectOpRan = (r: SpawnSyncReturns<string>) => {
  expect(r.status).toBe(0);
  const result = JSON.parse(r.stdout.trim()) as { backend: string; source: string; logprobs: number[] };
  expect(result.backend).toBe('cpu');
  expect(result.source).toBe(`prebuild ${path.join(app, 'node_modules', 'steprl', 'prebuilds', platformDir, prebuildName)}`);
  expect(result.logprobs[0]).toBeCloseTo(-Math.LN2, 6);
  expect(result.logprobs[1]).toBeCloseTo(-2 * Math.LN2, 6);
};

describeSlow('packaging (slow): npm pack -> install with --ignore-scripts -> use', () => {
  beforeAll(() => {
    if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) throw new Error('dist/ is missing: run npm run build:ts');
    // 1. steprl-<v>.tgz, with a prebuild (a stand-in when this checkout has none)
    main = pack(root, path.join(work, 'pack'));
    if (!main.files.some((f) => f.path.startsWith(`prebuilds/${platformDir}/`))) {
      const tree = path.join(work, 'unpacked');
      fs.mkdirSync(tree);
      const untar = spawnSync('tar', ['-xzf', main.filename, '-C', tree], { encoding: 'utf8' });
      if (untar.status !== 0) throw new Error(`tar -xzf failed: ${untar.stderr}`);
      const target = path.join(tree, 'package', 'prebuilds', platformDir, prebuildName);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      const built = resolveCpuAddon();
      fs.copyFileSync(built, target);
      prebuildSource = `stand-in copied from ${path.relative(root, built)}`;
      fs.rmSync(main.filename);
      main = pack(path.join(tree, 'package'), path.join(work, 'pack'));
    }
    // 2. steprl-linux-x64-cuda-<v>.tgz, staged like scripts/pack.mjs does
    const stage = path.join(work, 'cuda-stage');
    fs.mkdirSync(stage);
    for (const f of ['package.json', 'README.md']) fs.copyFileSync(path.join(root, 'packages', 'linux-x64-cuda', f), path.join(stage, f));
    let binary = path.join(root, 'build-cuda', 'Release', 'steprl.node');
    if (!fs.existsSync(binary)) {
      binary = resolveCpuAddon();
      cudaSource = `stand-in: the CPU addon ${path.relative(root, binary)} (no build-cuda/)`;
    }
    fs.copyFileSync(binary, path.join(stage, 'steprl.node'));
    const manifest = { name: cudaPackage.name, version, binary: 'steprl.node', architectures: { sass: ['sm_80', 'sm_86', 'sm_89', 'sm_90'], ptx: ['compute_90'] }, cuda: { nvcc: 'test', runtime: 'static' } };
    fs.writeFileSync(path.join(stage, 'manifest.json'), JSON.stringify(manifest));
    cuda = pack(stage, path.join(work, 'pack'));
    // 3. an empty project installs both without running any script, its registry dependencies
    //    pinned to the lockfile's versions
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'steprl-packaging-test-app', private: true, overrides: lockedDependencies() }));
    npm(['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', main.filename, ...(onLinuxX64 ? [cuda.filename] : [])], app);
    console.log(`packaging test: ${path.basename(main.filename)} ${(main.size / 1024).toFixed(0)} KiB (prebuild: ${prebuildSource}); ` +
      `${path.basename(cuda.filename)} ${(cuda.size / 1024).toFixed(0)} KiB (binary: ${cudaSource})`);
  }, 150_000);

  test('the main tarball: dist, sources for the fallback build, a prebuild, and no test or build debris', () => {
    const paths = main.files.map((f) => f.path);
    expect(debrisIn(paths)).toEqual([]);
    for (const needed of ['package.json', 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/cli/main.js', 'binding.gyp', 'native/addon.cc', 'include/steprl/errors.h', `prebuilds/${platformDir}/${prebuildName}`])
      expect(paths).toContain(needed);
    expect(paths.filter((p) => p.startsWith('build/') || p.endsWith('.o'))).toEqual([]);
    // binding.gyp compiles what native/sources.mjs lists (`<!@(node native/sources.mjs cpu)`): the
    // script ships, and so does every source it names in this checkout.
    expect(fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8')).toContain('node native/sources.mjs cpu');
    const listed = spawnSync(process.execPath, [path.join(root, 'native', 'sources.mjs'), 'cpu'], { encoding: 'utf8' });
    expect(listed.status).toBe(0);
    const sources = listed.stdout.trim().split('\n');
    expect(sources).toContain('native/addon.cc');
    for (const source of ['native/sources.mjs', ...sources]) expect(paths).toContain(source);
    expect(main.size).toBeLessThan(5 * 2 ** 20);
  });

  test('the CUDA tarball: steprl.node and manifest.json only; os, cpu, libc set; versions pinned together', () => {
    expect(cuda.files.map((f) => f.path).sort()).toEqual(CUDA_PACKAGE_FILES);
    expect(cudaPackage).toMatchObject({ name: '@steprl/linux-x64-cuda', version, os: ['linux'], cpu: ['x64'], libc: ['glibc'], files: ['steprl.node', 'manifest.json'] });
    expect(rootPackage.optionalDependencies).toEqual({ '@steprl/linux-x64-cuda': version });
    expect(cuda.size).toBeLessThan(50 * 2 ** 20);
  });

  test('installed without scripts: nothing was compiled, both packages are in place', () => {
    const installed = path.join(app, 'node_modules', 'steprl');
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
    expect(fs.existsSync(path.join(installed, 'prebuilds', platformDir, prebuildName))).toBe(true);
    if (onLinuxX64) expect(fs.existsSync(path.join(app, 'node_modules', '@steprl', 'linux-x64-cuda', 'steprl.node'))).toBe(true);
    const locked = lockedDependencies();
    expect(Object.keys(locked)).toEqual(expect.arrayContaining(Object.keys(rootPackage.dependencies)));
    for (const [name, version] of Object.entries(locked))
      expect(`${name}@${JSON.parse(fs.readFileSync(path.join(app, 'node_modules', name, 'package.json'), 'utf8')).version}`).toBe(`${name}@${version}`);
  });

  test('require("steprl") and import "steprl" run an op on the prebuild', () => {
    expectOpRan(node(['-e', opScript("const { Tensor, ops, backendInfo } = require('steprl');")], { STEPRL_BACKEND: 'cpu' }));
    expectOpRan(node(['--input-type=module', '-e', opScript("import { Tensor, ops, backendInfo } from 'steprl';")], { STEPRL_BACKEND: 'cpu' }));
  });

  const linuxTest = onLinuxX64 ? test : test.skip;

  linuxTest('auto with the CUDA package and no driver: the CPU, one line saying why, the op runs', () => {
    const r = node(['-e', opScript("const { Tensor, ops, backendInfo } = require('steprl');")], { LD_LIBRARY_PATH: '' });
    expectOpRan(r);
    expect(r.stderr).toBe(
      'steprl: using the CPU backend: no NVIDIA driver (no /proc/driver/nvidia/version, no libcuda.so.1), so @steprl/linux-x64-cuda@0.1.0 ' +
        'stays unused; install the NVIDIA driver to use a GPU (STEPRL_BACKEND=cpu silences this)\n',
    );
  });

  linuxTest('auto with a driver whose probe fails: one line with the reason, the op runs, the result is cached', () => {
    const fakeDriver = path.join(work, 'fake-driver');
    fs.mkdirSync(fakeDriver, { recursive: true });
    fs.writeFileSync(path.join(fakeDriver, 'libcuda.so.1'), ''); // not a library: CUDA cannot use it
    const env = { LD_LIBRARY_PATH: fakeDriver };
    const first = node(['-e', opScript("const { Tensor, ops, backendInfo } = require('steprl');")], env);
    expectOpRan(first);
    const lines = first.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^steprl: using the CPU backend: the CUDA probe failed \(@steprl\/linux-x64-cuda@0\.1\.0: (device|load): .+\); .*STEPRL_BACKEND=cpu silences this\)$/);
    const again = node(['-e', opScript("const { Tensor, ops, backendInfo } = require('steprl');")], env);
    expect(again.stderr).toBe(first.stderr);
    const doctor = node([path.join('node_modules', 'steprl', 'dist', 'cli', 'main.js'), 'doctor'], env);
    expect(doctor.status).toBe(0);
    expect(doctor.stdout).toMatch(/^ {2}probe {5}failed: .* \(cached from /m);
    expect(doctor.stdout).toContain(`  driver    found: ${path.join(fakeDriver, 'libcuda.so.1')}`);
  });

  test('steprl doctor in the installed package: prebuild, the CUDA package and its architectures', () => {
    const r = node([path.join('node_modules', '.bin', 'steprl'), 'doctor'], { LD_LIBRARY_PATH: '' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^backend {5}cpu \\(prebuild: node_modules/steprl/prebuilds/${platformDir}/${prebuildName.replace(/\./g, '\\.')}\\)$`, 'm'));
    expect(r.stdout).toContain('addon       Node-API 8; prebuilt binary shipped in the package');
    if (onLinuxX64) {
      expect(r.stdout).toContain(`  package   @steprl/linux-x64-cuda@${version} installed (node_modules/@steprl/linux-x64-cuda)`);
      expect(r.stdout).toContain('SASS sm_80 sm_86 sm_89 sm_90, PTX compute_90');
      expect(r.stdout).toContain('  probe     not run: no NVIDIA driver');
    }
  });
});
