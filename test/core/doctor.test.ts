// doctor.test.ts: `steprl doctor`. The formatting of reports this machine cannot produce (a GPU
// found by the probe, a failed load) from fake reports, and the real command in this checkout
// (dist/, built by `npm run build:ts` or npm install's prepare) with a private cache folder.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { formatDoctor, type DoctorReport } from '../../lib/cli/doctor';

const root = path.resolve(__dirname, '..', '..');
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-doctor-test-'));
afterAll(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

const packageFile = '/srv/app/node_modules/@steprl/linux-x64-cuda/steprl.node';
const gpuReport: DoctorReport = {
  steprl: { version: '0.1.0', root: '/srv/app/node_modules/steprl' },
  node: { version: 'v20.20.2', napi: '9', platform: 'linux-x64 glibc' },
  backend: {
    info: { backend: 'cuda', simd: 'avx512', simdSupported: 'avx512', threads: 32, napiVersion: 8, source: `cuda package ${packageFile}` },
    load: {
      origin: 'cuda package',
      file: packageFile,
      notice: null,
      decision: {
        mode: 'auto',
        plan: { kind: 'cuda', candidate: { file: packageFile, origin: 'cuda package', label: '@steprl/linux-x64-cuda@0.1.0' }, requireDevice: false },
        reason: 'the probe ran a kernel on NVIDIA H100 80GB HBM3 (sm 9.0) (cached)',
        notice: null,
        probes: [],
      },
    },
    error: null,
    prebuild: '/srv/app/node_modules/steprl/prebuilds/linux-x64/steprl.glibc.node',
  },
  cuda: {
    driver: { present: true, version: '580.65.06', identity: '580.65.06', evidence: 'NVIDIA kernel module 580.65.06 (/proc/driver/nvidia/version; /usr/lib/x86_64-linux-gnu/libcuda.so.1)', looked: [] },
    lookup: {
      packageName: '@steprl/linux-x64-cuda',
      packageState: 'installed',
      candidates: [{
        file: packageFile, origin: 'cuda package', label: '@steprl/linux-x64-cuda@0.1.0',
        manifest: {
          name: '@steprl/linux-x64-cuda', version: '0.1.0', binary: 'steprl.node', bytes: 1, sha256: 'x',
          architectures: { sass: ['sm_80', 'sm_86', 'sm_89', 'sm_90'], ptx: ['compute_90'] }, cuda: { nvcc: '13.0.88', runtime: 'static' },
        },
      }],
      notes: [],
    },
    probes: [{
      file: packageFile, label: '@steprl/linux-x64-cuda@0.1.0', cacheFile: '/home/u/.cache/steprl/cuda-probe-1.json',
      result: { ok: true, device: { name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0', driverVersion: 13000, runtimeVersion: 13000 }, ms: 812, at: '2026-11-23T20:00:00.000Z', cachedIn: '/home/u/.cache/steprl/cuda-probe-1.json' },
    }],
    device: {
      deviceCount: 1, simulated: false, name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0', multiprocessors: 132, totalMemory: 8e10, freeMemory: 7e10,
      runtimeVersion: 13000, driverVersion: 13000, allocator: { liveBytes: 0, scratchBytes: 0, cachedBytes: 0, deviceAllocations: 0, cacheHits: 0 },
    },
    cacheDir: '/home/u/.cache/steprl',
  },
};

describe('formatDoctor', () => {
  test('a GPU machine: the CUDA package in use, why, its architectures, the cached probe, the device', () => {
    const text = formatDoctor(gpuReport);
    expect(text).toContain(`backend     cuda (cuda package: ${packageFile})`);
    expect(text).toContain('  chosen    auto: the probe ran a kernel on NVIDIA H100 80GB HBM3 (sm 9.0) (cached)');
    expect(text).toContain('  driver    found: NVIDIA kernel module 580.65.06');
    expect(text).toContain('  package   @steprl/linux-x64-cuda@0.1.0 installed (/srv/app/node_modules/@steprl/linux-x64-cuda)');
    expect(text).toContain('SASS sm_80 sm_86 sm_89 sm_90, PTX compute_90; nvcc 13.0.88, static CUDA runtime');
    expect(text).toContain('  probe     ok: a kernel ran on NVIDIA H100 80GB HBM3 (sm 9.0) (cached from 2026-11-23T20:00:00.000Z)');
    expect(text).toContain('  device    NVIDIA H100 80GB HBM3 (sm 9.0), CUDA runtime 13000, driver 13000');
    expect(text).not.toContain('  said');
  });

  test('no addon loaded: the error, and the CUDA section all the same', () => {
    const failed: DoctorReport = { ...gpuReport, backend: { info: null, load: null, error: 'steprl could not load its native addon (x).\nTried:\n  a', prebuild: null } };
    const text = formatDoctor(failed);
    expect(text).toMatch(/^backend {5}none: steprl could not load its native addon \(x\)\.\n {12}Tried:/m);
    expect(text).toContain('  driver    found');
  });
});

const main = path.join(root, 'dist', 'cli', 'main.js');
function doctor(args: string[], env: Record<string, string | undefined> = {}) {
  return spawnSync(process.execPath, [main, 'doctor', ...args], {
    cwd: root, encoding: 'utf8', env: { ...process.env, STEPRL_CACHE_DIR: cacheDir, STEPRL_BACKEND: undefined, ...env },
  });
}

describe('steprl doctor in this checkout', () => {
  beforeAll(() => {
    if (!fs.existsSync(main)) throw new Error('dist/ is missing: run npm run build:ts');
  });

  test('reports the backend, how it was chosen, SIMD, threads, and the CUDA side', () => {
    const r = doctor([], { STEPRL_BACKEND: 'cpu' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^steprl {6}\d+\.\d+\.\d+ \(/);
    expect(r.stdout).toMatch(/^backend {5}cpu \((source build|prebuild): .*steprl[.a-z]*\.node\)$/m);
    expect(r.stdout).toMatch(/^ {2}chosen {4}explicit: STEPRL_BACKEND=cpu$/m);
    expect(r.stdout).toMatch(/^simd {8}(scalar|avx2|avx512) \(cpu supports (scalar|avx2|avx512)\)$/m);
    expect(r.stdout).toMatch(/^threads {5}\d+$/m);
    expect(r.stdout).toMatch(/^addon {7}Node-API 8; (built from source on this machine \(node-gyp\)|prebuilt binary shipped in the package)$/m);
    for (const label of ['driver', 'package', 'probe', 'cache']) expect(r.stdout).toMatch(new RegExp(`^  ${label} +\\S`, 'm'));
    expect(r.stdout).toContain(`  cache     ${cacheDir}`);
  });

  test('auto: the decision and, when it fell back although CUDA was in sight, the line it printed', () => {
    const r = doctor([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ {2}chosen {4}auto: /m);
    const said = /^ {2}said {6}(.*)$/m.exec(r.stdout)?.[1];
    // stderr carries the same line exactly once (or nothing, when CUDA was nowhere in sight)
    expect(r.stderr).toBe(said === undefined ? '' : `${said}\n`);
  });

  test('--json gives the same report as data; --probe runs the probe now', () => {
    const r = doctor(['--json', '--probe'], { STEPRL_BACKEND: 'cpu' });
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(report.backend.info?.backend).toBe('cpu');
    expect(report.cuda.cacheDir).toBe(cacheDir);
    for (const p of report.cuda.probes) {
      expect(p.result).not.toBeNull();
      expect(p.result!.cachedIn).toBeUndefined(); // ran now
      expect(fs.existsSync(p.cacheFile)).toBe(p.result!.reason?.startsWith('timeout') !== true);
    }
  });

  test('a bad STEPRL_BACKEND: exit 1 with the reason; an unknown option: exit 2', () => {
    const bad = doctor([], { STEPRL_BACKEND: 'gpu' });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('backend     none: Expected one of auto, cpu, cuda, cuda-sim for STEPRL_BACKEND but received "gpu"');
    expect(bad.stdout).toContain('  driver ');
    const unknown = doctor(['--fast']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toBe('steprl doctor: unknown option "--fast" (options: --probe, --json, --help)\n');
    const help = doctor(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^steprl doctor — .*\n\nOptions:\n {2}--probe/);
  });
});
