// doctor.ts: `steprl doctor` — which addon this process runs on and why, the CPU it found, and
// for CUDA: the driver, the platform package, a dev build, the probe and its cache. Never throws:
// a failed load is reported like everything else.
//   steprl doctor            the report (a cached probe result when there is one)
//   steprl doctor --probe    also probe every CUDA build now (a child process), refreshing the cache
//   steprl doctor --json     the same, as JSON        (--help: the options)
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadReport, packageRoot, packageVersion, type LoadReport } from '../binding';
import { detectDriver, findCudaBinaries, libcOf, currentHost, type CudaLookup, type DriverInfo } from '../backend/cuda_locate';
import { cachedProbe, probeCacheDir, probeCacheFile, probeKey, readProbeCache, type ProbeResult } from '../backend/cuda_probe';
import { backendInfo, cudaInfo, type BackendInfo } from '../runtime';
import type { NativeDeviceInfo } from '../native';

export interface DoctorReport {
  steprl: { version: string; root: string };
  node: { version: string; napi: string; platform: string };
  /** prebuild: this platform's prebuilt CPU addon when the package has one, loaded or not. */
  backend: { info: BackendInfo | null; load: LoadReport | null; error: string | null; prebuild: string | null };
  cuda: {
    driver: DriverInfo;
    lookup: CudaLookup;
    probes: { file: string; label: string; result: ProbeResult | null; cacheFile: string }[];
    device: NativeDeviceInfo | null;
    cacheDir: string;
  };
}

export function doctorReport(options: { probe?: boolean } = {}): DoctorReport {
  let info: BackendInfo | null = null;
  let load: LoadReport | null = null;
  let error: string | null = null;
  try {
    load = loadReport();
    info = backendInfo();
  } catch (e) {
    error = (e as Error).message;
  }
  const decision = load?.decision ?? null;
  const driver = decision?.driver ?? detectDriver();
  const lookup = decision?.cuda ?? findCudaBinaries({ packageRoot, version: packageVersion });
  const cacheDir = probeCacheDir();
  const probes = lookup.candidates.map((candidate) => {
    const fromDecision = decision?.probes.find((p) => p.candidate.file === candidate.file)?.result ?? null;
    let cacheFile = '';
    let result: ProbeResult | null = fromDecision;
    try {
      const key = probeKey(candidate.file, packageVersion, driver);
      cacheFile = probeCacheFile(key, cacheDir);
      if (options.probe) result = cachedProbe(candidate.file, packageVersion, driver, { cacheDir, refresh: true });
      else result ??= readProbeCache(key, cacheDir);
    } catch (e) {
      result = { ok: false, reason: `load: ${(e as Error).message}`, ms: 0, at: new Date().toISOString() };
    }
    return { file: candidate.file, label: candidate.label, result, cacheFile };
  });
  let device: NativeDeviceInfo | null = null;
  try {
    device = info !== null && info.backend !== 'cpu' ? cudaInfo() : null;
  } catch {
    device = null;
  }
  const host = currentHost();
  return {
    steprl: { version: packageVersion, root: packageRoot },
    node: {
      version: process.version,
      napi: process.versions.napi ?? '?',
      platform: `${host.platform}-${host.arch}${host.platform === 'linux' ? ` ${libcOf(host)}` : ''}`,
    },
    backend: { info, load, error, prebuild: findPrebuild() },
    cuda: { driver, lookup, probes, device, cacheDir },
  };
}

function findPrebuild(): string | null {
  const dir = path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`);
  try {
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.node'));
    return file === undefined ? null : path.join(dir, file);
  } catch {
    return null;
  }
}

const rel = (file: string): string => {
  const r = path.relative(process.cwd(), file);
  return r && !r.startsWith('..') && !path.isAbsolute(r) ? r : file;
};

function describeProbe(result: ProbeResult | null, driverPresent: boolean): string {
  if (result === null) return driverPresent ? 'not run yet (the next auto load runs it)' : 'not run: no NVIDIA driver (steprl doctor --probe runs it anyway)';
  const when = result.cachedIn ? `cached from ${result.at}` : `ran now, ${result.ms} ms`;
  if (result.ok) return `ok: a kernel ran on ${result.device?.name} (sm ${result.device?.computeCapability}) (${when})`;
  return `failed: ${result.reason} (${when})`;
}

export function formatDoctor(r: DoctorReport): string {
  const lines: string[] = [];
  const row = (label: string, value: string): void => {
    lines.push(`${label.padEnd(12)}${value}`);
  };
  const load = r.backend.load;
  const info = r.backend.info;
  row('steprl', `${r.steprl.version} (${r.steprl.root})`);
  row('node', `${r.node.version}, Node-API ${r.node.napi}, ${r.node.platform}`);
  if (info === null || load === null) {
    row('backend', `none: ${r.backend.error?.split('\n').join('\n            ')}`);
  } else {
    row('backend', `${info.backend} (${load.origin}${load.file ? `: ${rel(load.file)}` : load.embedder ? `: ${load.embedder}` : ''})`);
    const decision = load.decision;
    row('  chosen', decision === null ? 'by the embedder (useBinding)' : `${decision.mode}: ${decision.reason}`);
    if (load.notice) row('  said', load.notice);
    row('simd', `${info.simd} (cpu supports ${info.simdSupported})`);
    row('threads', String(info.threads));
    row('addon', `Node-API ${info.napiVersion}; ${load.origin === 'prebuild' ? 'prebuilt binary shipped in the package' : load.origin === 'source build' ? 'built from source on this machine (node-gyp)' : load.origin}`);
    if (load.origin === 'source build' && r.backend.prebuild) row('', `${rel(r.backend.prebuild)} exists too; node-gyp-build prefers build/Release`);
  }
  lines.push('cuda');
  const c = r.cuda;
  row('  driver', c.driver.present ? `found: ${c.driver.evidence}` : `not found: ${c.driver.evidence}`);
  if (!c.driver.present && c.driver.looked.length) row('', `libcuda.so.1 looked for in ${c.driver.looked.join(', ')}`);
  const pkg = c.lookup.candidates.find((x) => x.origin === 'cuda package');
  if (pkg) {
    const m = pkg.manifest;
    row('  package', `${pkg.label} installed (${rel(path.dirname(pkg.file))})`);
    if (m) row('', `SASS ${m.architectures.sass.join(' ')}, PTX ${m.architectures.ptx.join(' ')}; nvcc ${m.cuda.nvcc}, static CUDA runtime`);
  } else {
    row('  package', c.lookup.notes[0] ?? 'none');
    if (c.lookup.packageState === 'not installed' || c.lookup.packageState === 'other version')
      row('', `to get it: npm install ${c.lookup.packageName}@${r.steprl.version} (or npm install --include=optional)`);
  }
  const dev = c.lookup.candidates.find((x) => x.origin === 'cuda dev build');
  if (dev) row('  dev build', rel(dev.file));
  for (const p of c.probes) {
    row('  probe', `${c.probes.length > 1 ? `${p.label}: ` : ''}${describeProbe(p.result, c.driver.present)}`);
  }
  if (c.probes.length === 0) row('  probe', 'nothing to probe: no CUDA build of steprl is installed');
  row('  cache', c.cacheDir);
  if (c.device) {
    row('  device', c.device.deviceCount > 0
      ? `${c.device.name} (sm ${c.device.computeCapability}), CUDA runtime ${c.device.runtimeVersion}, driver ${c.device.driverVersion}${c.device.simulated ? ' (simulated)' : ''}`
      : `none: ${c.device.error ?? 'no device'}${c.device.simulated ? ' (simulator)' : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

const HELP = `steprl doctor — which native addon steprl runs on and why, and what CUDA would need

Options:
  --probe                       probe every CUDA build now in a child process (refreshes the cache)
  --json                        print the report as JSON
  --help                        this text

Environment: STEPRL_BACKEND=auto|cpu|cuda|cuda-sim, STEPRL_BINARY=/path/steprl.node,
STEPRL_CACHE_DIR (where probe results are cached). Exit code 1 when no addon could be loaded.
`;

/** The `steprl doctor` command; returns the exit code (0, or 1 when no addon could be loaded). */
export function doctor(argv: string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  const unknown = argv.filter((a) => !['--probe', '--json'].includes(a));
  if (unknown.length) {
    process.stderr.write(`steprl doctor: unknown option ${JSON.stringify(unknown[0])} (options: --probe, --json, --help)\n`);
    return 2;
  }
  const report = doctorReport({ probe: argv.includes('--probe') });
  process.stdout.write(argv.includes('--json') ? `${JSON.stringify(report, null, 2)}\n` : formatDoctor(report));
  return report.backend.info === null ? 1 : 0;
}
