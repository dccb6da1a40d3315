// loader.test.ts: how steprl picks its addon (lib/backend/): the decision table with fakes (no
// driver, no package, probe failure, probe success, cached result, explicit env), driver and
// package discovery in a fake file-system root, the probe cache, and the child-process probe run
// on fake addons (JS files standing in for .node files) that fail to load, crash, hang, compute
// the wrong answer, or work. Nothing here needs a GPU or touches the user's cache.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { BackendError } from '../../lib';
import { cudaPackageName, detectDriver, findCudaBinaries, type CudaCandidate, type CudaLookup, type DriverInfo, type HostFacts } from '../../lib/backend/cuda_locate';
import { cachedProbe, probeCacheDir, runProbe, type ProbeResult } from '../../lib/backend/cuda_probe';
import { selectBackend, type SelectDeps } from '../../lib/backend/select';

const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-loader-test-'));
afterAll(() => fs.rmSync(temp, { recursive: true, force: true }));

const noDriver: DriverInfo = { present: false, version: null, identity: 'none', evidence: 'no /proc/driver/nvidia/version, no libcuda.so.1', looked: [] };
const driver: DriverInfo = { present: true, version: '580.65.06', identity: '580.65.06', evidence: 'NVIDIA kernel module 580.65.06', looked: [] };
const pkg: CudaCandidate = { file: '/x/node_modules/@steprl/linux-x64-cuda/steprl.node', origin: 'cuda package', label: '@steprl/linux-x64-cuda@0.1.0' };
const dev: CudaCandidate = { file: '/x/build-cuda/Release/steprl.node', origin: 'cuda dev build', label: 'the CUDA dev build (build-cuda/)' };
const withPackage: CudaLookup = { packageName: '@steprl/linux-x64-cuda', packageState: 'installed', candidates: [pkg], notes: [] };
const withBoth: CudaLookup = { ...withPackage, candidates: [pkg, dev] };
const without: CudaLookup = { packageName: '@steprl/linux-x64-cuda', packageState: 'not installed', candidates: [], notes: ['@steprl/linux-x64-cuda is not installed'] };
const ok: ProbeResult = { ok: true, device: { name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0', driverVersion: 13000, runtimeVersion: 13000 }, ms: 400, at: '2026-01-01T00:00:00.000Z' };
const bad = (reason: string): ProbeResult => ({ ok: false, reason, ms: 300, at: '2026-01-01T00:00:00.000Z' });

function deps(over: Partial<SelectDeps> & { probes?: Record<string, ProbeResult> } = {}): SelectDeps & { probed: string[] } {
  const probed: string[] = [];
  return {
    env: {},
    version: '0.1.0',
    lookup: () => withPackage,
    driver: () => driver,
    probe: (candidate) => {
      probed.push(candidate.file);
      return over.probes?.[candidate.file] ?? ok;
    },
    simulatorFile: '/x/build-cuda-sim/Release/steprl.node',
    probed,
    ...over,
  };
}

describe('selectBackend: explicit choices', () => {
  test('STEPRL_BINARY wins over STEPRL_BACKEND and nothing is probed', () => {
    const d = deps({ env: { STEPRL_BINARY: '/a/b.node', STEPRL_BACKEND: 'cuda' } });
    const decision = selectBackend(d);
    expect(decision).toMatchObject({ mode: 'explicit', plan: { kind: 'file', file: '/a/b.node' }, notice: null });
    expect(d.probed).toEqual([]);
  });

  test('STEPRL_BACKEND=cpu loads the CPU addon without looking for CUDA', () => {
    const d = deps({ env: { STEPRL_BACKEND: 'CPU' }, lookup: () => { throw new Error('must not look'); } });
    expect(selectBackend(d)).toMatchObject({ mode: 'explicit', plan: { kind: 'cpu' }, notice: null });
  });

  test('STEPRL_BACKEND=cuda-sim loads the simulator build', () => {
    expect(selectBackend(deps({ env: { STEPRL_BACKEND: 'cuda-sim' } })).plan).toEqual({ kind: 'cuda-sim', file: '/x/build-cuda-sim/Release/steprl.node' });
  });

  test('STEPRL_BACKEND=cuda takes the package first, skips the probe, and requires a device at load', () => {
    const d = deps({ env: { STEPRL_BACKEND: 'cuda' }, lookup: () => withBoth, driver: () => noDriver });
    expect(selectBackend(d).plan).toEqual({ kind: 'cuda', candidate: pkg, requireDevice: true });
    expect(d.probed).toEqual([]);
  });

  test('STEPRL_BACKEND=cuda without any CUDA build throws a BackendError that says how to install it', () => {
    const d = deps({ env: { STEPRL_BACKEND: 'cuda' }, lookup: () => without });
    expect(() => selectBackend(d)).toThrow(BackendError);
    expect(() => selectBackend(d)).toThrow(/npm install @steprl\/linux-x64-cuda@0\.1\.0/);
  });

  test('an unknown STEPRL_BACKEND names the choices and what was received', () => {
    expect(() => selectBackend(deps({ env: { STEPRL_BACKEND: 'gpu' } }))).toThrow(
      'Expected one of auto, cpu, cuda, cuda-sim for STEPRL_BACKEND but received "gpu"',
    );
  });
});

describe('selectBackend: auto', () => {
  test('no driver and no CUDA build: the CPU, silently (nothing fell back)', () => {
    const d = deps({ driver: () => noDriver, lookup: () => without });
    const decision = selectBackend(d);
    expect(decision).toMatchObject({ mode: 'auto', plan: { kind: 'cpu' }, notice: null });
    expect(decision.reason).toContain('no NVIDIA driver');
    expect(d.probed).toEqual([]);
  });

  test('no driver but the package is installed: the CPU with one line, and no probe is spawned', () => {
    const d = deps({ driver: () => noDriver });
    const decision = selectBackend(d);
    expect(decision.plan).toEqual({ kind: 'cpu' });
    expect(decision.notice).toMatch(/^steprl: using the CPU backend: no NVIDIA driver \(.*\), so @steprl\/linux-x64-cuda@0\.1\.0 stays unused; install the NVIDIA driver.*STEPRL_BACKEND=cpu silences this\)$/);
    expect(decision.notice).not.toContain('\n');
    expect(d.probed).toEqual([]);
  });

  test('a driver but no package: the CPU with one line that says how to install it', () => {
    const decision = selectBackend(deps({ lookup: () => without }));
    expect(decision.plan).toEqual({ kind: 'cpu' });
    expect(decision.notice).toContain('an NVIDIA driver (580.65.06) is present but @steprl/linux-x64-cuda is not installed');
    expect(decision.notice).toContain('npm install @steprl/linux-x64-cuda@0.1.0');
    expect(decision.notice).toContain('--include=optional');
  });

  test('a driver on a platform with no CUDA package: the hint is to build one', () => {
    const lookup: CudaLookup = { packageName: null, packageState: 'none for this platform', candidates: [], notes: ['no CUDA package is published for linux-arm64 glibc'] };
    expect(selectBackend(deps({ lookup: () => lookup })).notice).toContain('no CUDA package is published for linux-arm64 glibc: build one in a checkout (npm run build:cuda) and set STEPRL_BINARY');
  });

  test('a driver and a package whose probe runs a kernel: CUDA, silently', () => {
    const d = deps();
    const decision = selectBackend(d);
    expect(decision).toMatchObject({ mode: 'auto', plan: { kind: 'cuda', candidate: pkg, requireDevice: false }, notice: null });
    expect(decision.reason).toBe('the probe ran a kernel on NVIDIA H100 80GB HBM3 (sm 9.0)');
    expect(d.probed).toEqual([pkg.file]);
  });

  test('a cached probe result is used as is and said to be cached', () => {
    const decision = selectBackend(deps({ probes: { [pkg.file]: { ...ok, cachedIn: '/c/cuda-probe-1.json' } } }));
    expect(decision.plan.kind).toBe('cuda');
    expect(decision.reason).toContain('(cached)');
  });

  test('a failing probe: the CPU with one line giving the reason; the next candidate is tried first', () => {
    const d = deps({
      lookup: () => withBoth,
      probes: { [pkg.file]: bad('device: cudaErrorInsufficientDriver: CUDA driver version is insufficient'), [dev.file]: bad('crash: the probe process died of SIGSEGV') },
    });
    const decision = selectBackend(d);
    expect(d.probed).toEqual([pkg.file, dev.file]);
    expect(decision.plan).toEqual({ kind: 'cpu' });
    expect(decision.notice).toMatch(/^steprl: using the CPU backend: the CUDA probe failed \(@steprl\/linux-x64-cuda@0\.1\.0: device: cudaErrorInsufficientDriver.*; the CUDA dev build \(build-cuda\/\): crash: the probe process died of SIGSEGV\)/);
    expect(decision.notice).not.toContain('\n');
    expect(decision.probes.map((p) => p.result.ok)).toEqual([false, false]);
  });

  test('a failing package probe falls through to a working dev build', () => {
    const decision = selectBackend(deps({ lookup: () => withBoth, probes: { [pkg.file]: bad('load: undefined symbol') } }));
    expect(decision.plan).toEqual({ kind: 'cuda', candidate: dev, requireDevice: false });
    expect(decision.notice).toBeNull();
  });

  test('STEPRL_BACKEND=auto and an empty STEPRL_BACKEND mean auto', () => {
    expect(selectBackend(deps({ env: { STEPRL_BACKEND: 'auto' } })).mode).toBe('auto');
    expect(selectBackend(deps({ env: { STEPRL_BACKEND: '' } })).mode).toBe('auto');
  });
});

// A fake machine: a folder standing for '/', with proc/, etc/, usr/lib/... as a test needs.
function fakeRoot(name: string, files: Record<string, string | Buffer> = {}): HostFacts {
  const root = path.join(temp, name);
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), content);
  }
  fs.mkdirSync(root, { recursive: true });
  return { platform: 'linux', arch: 'x64', env: {}, root };
}

describe('detectDriver', () => {
  test('nothing: not present, and it says where it looked', () => {
    const d = detectDriver(fakeRoot('bare'));
    expect(d).toMatchObject({ present: false, version: null, identity: 'none', evidence: 'no /proc/driver/nvidia/version, no libcuda.so.1' });
    expect(d.looked).toContain('/usr/lib/x86_64-linux-gnu');
  });

  test('/proc/driver/nvidia/version gives the kernel module version', () => {
    const host = fakeRoot('proc', {
      'proc/driver/nvidia/version': 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  Sun Jul 27 07:09:40 UTC 2025\nGCC version:  gcc version 12.2.0\n',
      'usr/lib/x86_64-linux-gnu/libcuda.so.1': '',
    });
    expect(detectDriver(host)).toMatchObject({ present: true, version: '580.65.06', identity: '580.65.06' });
    expect(detectDriver(host).evidence).toBe('NVIDIA kernel module 580.65.06 (/proc/driver/nvidia/version; /usr/lib/x86_64-linux-gnu/libcuda.so.1)');
  });

  test('libcuda.so.1 alone (WSL2, containers) counts; its versioned target names the version', () => {
    const host = fakeRoot('wsl', { 'usr/lib/wsl/lib/libcuda.so.575.51.02': 'x' });
    fs.symlinkSync('libcuda.so.575.51.02', path.join(host.root, 'usr/lib/wsl/lib/libcuda.so.1'));
    const d = detectDriver(host);
    expect(d).toMatchObject({ present: true, version: '575.51.02' });
    expect(d.evidence).toContain('/usr/lib/wsl/lib/libcuda.so.1 (575.51.02), no /proc/driver/nvidia');
  });

  test('LD_LIBRARY_PATH and /etc/ld.so.cache are searched; the toolkit stubs folder is not a driver', () => {
    const host = fakeRoot('ldpath', { 'opt/drv/libcuda.so.1': 'x', 'opt/cuda/lib64/stubs/libcuda.so.1': 'x' });
    expect(detectDriver({ ...host, env: { LD_LIBRARY_PATH: '/opt/cuda/lib64/stubs' } }).present).toBe(false);
    expect(detectDriver({ ...host, env: { LD_LIBRARY_PATH: '/opt/cuda/lib64/stubs:/opt/drv' } }).evidence).toMatch(/^\/opt\/drv\/libcuda\.so\.1, no \/proc/);
    const cached = fakeRoot('ldcache', {
      'srv/nv/libcuda.so.1': 'x',
      'etc/ld.so.cache': Buffer.concat([Buffer.from('glibc-ld.so.cache1.1\0\0libcuda.so.1\0'), Buffer.from('/srv/nv/libcuda.so.1\0')]),
    });
    expect(detectDriver(cached).evidence).toMatch(/^\/srv\/nv\/libcuda\.so\.1/);
  });

  test('macOS has none; Windows looks for nvcuda.dll', () => {
    expect(detectDriver({ platform: 'darwin', arch: 'arm64', env: {}, root: '/' })).toMatchObject({ present: false });
    expect(detectDriver({ platform: 'win32', arch: 'x64', env: { SystemRoot: path.join(temp, 'nowindows') }, root: '/' }).evidence).toContain('nvcuda.dll');
  });
});

describe('findCudaBinaries', () => {
  const version = '0.1.0';
  function packageDir(name: string, files: Record<string, string>): string {
    const dir = path.join(temp, name, 'node_modules', '@steprl', 'linux-x64-cuda');
    fs.mkdirSync(dir, { recursive: true });
    for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), content);
    return dir;
  }
  const host = (): HostFacts => fakeRoot('glibc-host');

  test('the package name follows platform, arch and libc', () => {
    expect(cudaPackageName(fakeRoot('glibc'))).toBe('@steprl/linux-x64-cuda');
    expect(cudaPackageName({ ...fakeRoot('musl', { 'lib/ld-musl-x86_64.so.1': '' }) })).toBeNull();
    expect(cudaPackageName({ ...fakeRoot('arm'), arch: 'arm64' })).toBeNull();
    expect(cudaPackageName({ platform: 'darwin', arch: 'arm64', env: {}, root: '/' })).toBeNull();
  });

  test('an installed package at the same version is the first candidate, with its manifest', () => {
    const dir = packageDir('installed', {
      'package.json': JSON.stringify({ name: '@steprl/linux-x64-cuda', version }),
      'manifest.json': JSON.stringify({ binary: 'steprl.node', architectures: { sass: ['sm_80'], ptx: ['compute_90'] } }),
      'steprl.node': 'x',
    });
    const lookup = findCudaBinaries({ packageRoot: path.join(temp, 'nowhere'), version, host: host(), resolvePackage: () => path.join(dir, 'package.json') });
    expect(lookup.candidates).toHaveLength(1);
    expect(lookup.candidates[0]).toMatchObject({ file: path.join(dir, 'steprl.node'), origin: 'cuda package', label: '@steprl/linux-x64-cuda@0.1.0' });
    expect(lookup.candidates[0].manifest?.architectures.sass).toEqual(['sm_80']);
  });

  test('a version mismatch, a missing binary and a missing package are notes, not candidates', () => {
    const old = packageDir('old', { 'package.json': JSON.stringify({ version: '0.0.9' }), 'steprl.node': 'x' });
    const empty = packageDir('empty', { 'package.json': JSON.stringify({ version }) });
    const find = (resolved: string | null) =>
      findCudaBinaries({ packageRoot: path.join(temp, 'nowhere'), version, host: host(), resolvePackage: () => resolved });
    expect(find(path.join(old, 'package.json'))).toMatchObject({
      packageState: 'other version', candidates: [], notes: ['@steprl/linux-x64-cuda 0.0.9 does not match steprl 0.1.0 (npm install @steprl/linux-x64-cuda@0.1.0)'],
    });
    expect(find(path.join(empty, 'package.json')).packageState).toBe('linked');
    expect(find(path.join(empty, 'package.json')).notes[0]).toContain('holds no steprl.node');
    expect(find(null)).toEqual({ packageName: '@steprl/linux-x64-cuda', packageState: 'not installed', candidates: [], notes: ['@steprl/linux-x64-cuda is not installed'] });
  });

  test('a dev checkout\'s build-cuda/ comes after the package', () => {
    const checkout = path.join(temp, 'checkout');
    fs.mkdirSync(path.join(checkout, 'build-cuda', 'Release'), { recursive: true });
    fs.writeFileSync(path.join(checkout, 'build-cuda', 'Release', 'steprl.node'), 'x');
    const lookup = findCudaBinaries({ packageRoot: checkout, version, host: host(), resolvePackage: () => null });
    expect(lookup.candidates.map((c) => c.origin)).toEqual(['cuda dev build']);
  });
});

describe('the probe cache', () => {
  const addon = path.join(temp, 'cache-addon.node');
  fs.writeFileSync(addon, 'x');
  const counting = () => {
    const calls: string[] = [];
    return { calls, run: (file: string): ProbeResult => (calls.push(file), bad('device: no CUDA device')) };
  };

  test('one probe per (version, binary, driver); a hit says where it was cached', () => {
    const cacheDir = path.join(temp, 'cache1');
    const c = counting();
    const first = cachedProbe(addon, '0.1.0', driver, { cacheDir, run: c.run });
    const second = cachedProbe(addon, '0.1.0', driver, { cacheDir, run: c.run });
    expect(c.calls).toHaveLength(1);
    expect(first.cachedIn).toBeUndefined();
    expect(second).toMatchObject({ ok: false, reason: 'device: no CUDA device' });
    expect(second.cachedIn).toMatch(/cuda-probe-[0-9a-f]{20}\.json$/);
    // a new steprl version, a new driver, a rebuilt binary: probed again
    cachedProbe(addon, '0.2.0', driver, { cacheDir, run: c.run });
    cachedProbe(addon, '0.1.0', { ...driver, identity: '590.1' }, { cacheDir, run: c.run });
    fs.utimesSync(addon, new Date(), new Date(Date.now() + 5000));
    cachedProbe(addon, '0.1.0', driver, { cacheDir, run: c.run });
    expect(c.calls).toHaveLength(4);
    // refresh ignores the cache
    cachedProbe(addon, '0.1.0', driver, { cacheDir, run: c.run, refresh: true });
    expect(c.calls).toHaveLength(5);
  });

  test('timeouts are not cached; a corrupt cache file is a miss', () => {
    const cacheDir = path.join(temp, 'cache2');
    let calls = 0;
    const hang = (): ProbeResult => (calls++, bad('timeout: no answer in 60 s (killed)'));
    cachedProbe(addon, '0.1.0', driver, { cacheDir, run: hang });
    cachedProbe(addon, '0.1.0', driver, { cacheDir, run: hang });
    expect(calls).toBe(2);
    const c = counting();
    cachedProbe(addon, '0.1.0', driver, { cacheDir, run: c.run });
    for (const f of fs.readdirSync(cacheDir)) fs.writeFileSync(path.join(cacheDir, f), '{ not json');
    cachedProbe(addon, '0.1.0', driver, { cacheDir, run: c.run });
    expect(c.calls).toHaveLength(2);
  });

  test('a missing binary is a load failure, not an exception', () => {
    expect(cachedProbe(path.join(temp, 'absent.node'), '0.1.0', driver, { cacheDir: path.join(temp, 'cache3') })).toMatchObject({ ok: false, reason: expect.stringMatching(/^load: /) });
  });

  test('the cache folder: STEPRL_CACHE_DIR, then XDG_CACHE_HOME/steprl, never node_modules', () => {
    expect(probeCacheDir({ STEPRL_CACHE_DIR: path.join(temp, 'mine') })).toBe(path.join(temp, 'mine'));
    expect(probeCacheDir({ XDG_CACHE_HOME: path.join(temp, 'xdg') })).toBe(path.join(temp, 'xdg', 'steprl'));
    const inModules = probeCacheDir({ XDG_CACHE_HOME: path.join(temp, 'node_modules', '.cache') });
    expect(inModules.split(path.sep)).not.toContain('node_modules');
    expect(inModules.startsWith(os.tmpdir())).toBe(true);
  });
});

describe('the child-process probe', () => {
  // Fake addons are JS files: require() runs them in the child like a .node file would load.
  const fake = (name: string, body: string): string => {
    const file = path.join(temp, `${name}.js`);
    fs.writeFileSync(file, body);
    return file;
  };
  const workingAddon = (answer: string) => `
    const info = { deviceCount: 1, simulated: false, name: 'Fake GPU', computeCapability: '9.0', driverVersion: 13000, runtimeVersion: 13000 };
    const logSoftmax = (row, t) => { const m = Math.max(...row); const z = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0)); return row[t] - z; };
    module.exports = {
      deviceInfo: () => info,
      toDevice: (a) => ({ host: Array.from(a) }),
      toHost: (b) => Float32Array.from(b.host),
      synchronize: () => {},
      tokenLogprobs: (logits, targets, rows, vocab) => ({ logprobs: { host: Array.from({ length: rows }, (_, r) =>
        ${answer}) } }),
    };`;

  test('a working addon: ok, with the device it found', () => {
    const result = runProbe(fake('good', workingAddon('logSoftmax(logits.host.slice(r * vocab, (r + 1) * vocab), targets.host[r])')));
    expect(result).toMatchObject({ ok: true, device: { name: 'Fake GPU', computeCapability: '9.0' } });
  });

  test('a kernel with the wrong answer fails at stage kernel', () => {
    const result = runProbe(fake('wrong', workingAddon('0')));
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/^kernel: tokenLogprobs gave \[0,0\], expected/);
  });

  test('a file that does not load, a CPU-only addon, a device-less addon', () => {
    expect(runProbe(path.join(temp, 'missing.node')).reason).toMatch(/^load: Cannot find module/);
    expect(runProbe(fake('cpuonly', 'module.exports = { info: () => ({}) };')).reason).toBe('load: not a CUDA build of steprl (no deviceInfo)');
    expect(runProbe(fake('nodevice', "module.exports = { deviceInfo: () => ({ deviceCount: 0, error: 'cudaErrorNoDevice: no CUDA-capable device is detected' }) };")).reason)
      .toBe('device: cudaErrorNoDevice: no CUDA-capable device is detected');
    expect(runProbe(fake('simulated', 'module.exports = { deviceInfo: () => ({ deviceCount: 1, simulated: true }) };')).reason).toContain('simulator');
  });

  test('an addon that segfaults kills only the child', () => {
    const result = runProbe(fake('segv', "process.kill(process.pid, 'SIGSEGV');"));
    expect(result).toMatchObject({ ok: false, reason: 'crash: the probe process died of SIGSEGV' });
  });

  test('an addon that exits or hangs', () => {
    expect(runProbe(fake('exit', "console.error('fatal: driver mismatch'); process.exit(3);")).reason).toBe('crash: the probe process exited with code 3 (fatal: driver mismatch)');
    const hang = runProbe(fake('hang', 'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);'), { timeoutMs: 1500 });
    expect(hang).toMatchObject({ ok: false, reason: 'timeout: no answer in 1.5 s (killed)' });
  });
});

describe('binding.ts', () => {
  type BindingModule = typeof import('../../lib/binding');
  // A fresh copy of lib/binding.ts (its loaded-addon state), with STEPRL_* set as given.
  function freshBinding(env: Record<string, string | undefined>, use: (m: BindingModule) => void): void {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    const set = (values: Record<string, string | undefined>) => {
      for (const [k, v] of Object.entries(values)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    };
    set(env);
    try {
      jest.isolateModules(() => use(jest.requireActual<BindingModule>('../../lib/binding')));
    } finally {
      set(saved);
    }
  }

  // The isolated module has its own error classes: check name and code, not instanceof.
  function expectBackendError(fn: () => unknown, message?: RegExp): void {
    let error: unknown;
    try {
      fn();
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: 'BackendError', code: 'STEPRL_BACKEND' });
    if (message) expect((error as Error).message).toMatch(message);
  }

  test('an embedder\'s binding object comes first and is named by useBinding', () => {
    freshBinding({ STEPRL_BACKEND: 'gpu' }, (m) => {
      const custom = { info: () => ({ backend: 'cpu' }) } as unknown as ReturnType<BindingModule['binding']>;
      m.useBinding(custom, 'my-engine');
      // STEPRL_BACKEND=gpu would throw: nothing was selected. binding() hands the object out through
      // the async-input guard (lib/in_flight.ts), which calls it unchanged.
      expect(m.binding().info()).toEqual({ backend: 'cpu' });
      expect(m.bindingSource()).toBe('my-engine');
      expect(m.loadReport()).toMatchObject({ origin: 'embedder', file: null, decision: null, notice: null });
      expectBackendError(() => m.useBinding({ ...custom }), /must be called before any tensor or op is used/);
    });
  });

  test('STEPRL_BINARY loads that file; STEPRL_BACKEND=cpu goes through node-gyp-build', () => {
    let cpuFile = '';
    freshBinding({ STEPRL_BACKEND: 'cpu', STEPRL_BINARY: undefined }, (m) => {
      cpuFile = m.resolveCpuAddon();
      expect(m.loadReport()).toMatchObject({ origin: m.cpuOrigin(cpuFile), file: cpuFile, notice: null, decision: { mode: 'explicit' } });
      expect(m.bindingSource()).toBe(`${m.cpuOrigin(cpuFile)} ${cpuFile}`);
    });
    freshBinding({ STEPRL_BACKEND: 'cuda', STEPRL_BINARY: cpuFile }, (m) => {
      expect(m.loadReport()).toMatchObject({ origin: 'STEPRL_BINARY', file: cpuFile });
      expect(m.binding().info().backend).toBe('cpu');
    });
  });

  test('a STEPRL_BINARY that does not load: a BackendError listing what was tried and how to fix it', () => {
    freshBinding({ STEPRL_BINARY: path.join(temp, 'nothing-here.node') }, (m) => {
      expectBackendError(() => m.binding(), /Tried:\n {2}STEPRL_BINARY=.*nothing-here\.node\nFix: run `npm rebuild steprl`/);
    });
  });

  test('prebuild or source build is told by the path node-gyp-build picked', () => {
    freshBinding({}, (m) => {
      expect(m.cpuOrigin('/app/node_modules/steprl/prebuilds/linux-x64/steprl.glibc.node')).toBe('prebuild');
      expect(m.cpuOrigin('/app/node_modules/steprl/build/Release/steprl.node')).toBe('source build');
    });
  });
});
