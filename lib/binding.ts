// binding.ts: the only file that loads a native addon into this process.
//
// Order: a binding object handed in by an embedder (useBinding), then STEPRL_BINARY=/path.node,
// then STEPRL_BACKEND=cpu|cuda|cuda-sim|auto (default auto). backend/select.ts decides (its header
// has the table); auto takes CUDA only when a driver is present and a child-process probe of the
// CUDA addon ran a kernel, and otherwise prints one line saying why. The CPU addon is found
// through node-gyp-build (build/Release first, then prebuilds/). A failed load lists every place
// tried and how to fix it.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { BackendError } from './errors';
import { guardBinding } from './in_flight';
import type { NativeBinding } from './native';
import { cachedProbe } from './backend/cuda_probe';
import { detectDriver, findCudaBinaries } from './backend/cuda_locate';
import { selectBackend, type Decision, type SelectDeps } from './backend/select';

export type BackendName = 'cpu' | 'cuda' | 'cuda-sim';

/** The package root: the folder holding this package's package.json. */
export const packageRoot: string = (() => {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        if (JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'steprl') return dir;
      } catch {
        // keep looking upwards
      }
    }
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..');
})();

export const packageVersion: string = (() => {
  try {
    return String(JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version);
  } catch {
    return '0.0.0';
  }
})();

/** Where the loaded addon came from. */
export type BinaryOrigin = 'embedder' | 'STEPRL_BINARY' | 'prebuild' | 'source build' | 'cuda package' | 'cuda dev build' | 'cuda-sim dev build';

/** What was loaded and why: the decision plus the file actually loaded (steprl doctor prints it). */
export interface LoadReport {
  origin: BinaryOrigin;
  /** The .node file, or null for an embedder's object. */
  file: string | null;
  decision: Decision | null;
  /** The line printed on stderr when auto fell back to the CPU, if any. */
  notice: string | null;
  /** useBinding's name for an embedder's object. */
  embedder?: string;
}

let loaded: { binding: NativeBinding; report: LoadReport } | null = null;
let noticePrinted = false;

function loadFile(file: string): NativeBinding {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as NativeBinding;
}

/** The file node-gyp-build picks for the CPU addon (build/Release, build/Debug, then prebuilds/). */
export function resolveCpuAddon(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  return nodeGypBuild.resolve(packageRoot);
}

export const cpuOrigin = (file: string): BinaryOrigin =>
  file.split(/[\\/]/).includes('prebuilds') ? 'prebuild' : 'source build';

const simulatorFile = (): string => path.join(packageRoot, 'build-cuda-sim', 'Release', 'steprl.node');

/** The real dependencies of the decision: file lookups, the driver check, the cached probe. */
export function defaultSelectDeps(env: NodeJS.ProcessEnv = process.env): SelectDeps {
  return {
    env: { STEPRL_BACKEND: env.STEPRL_BACKEND, STEPRL_BINARY: env.STEPRL_BINARY },
    version: packageVersion,
    lookup: () => findCudaBinaries({ packageRoot, version: packageVersion }),
    driver: () => detectDriver(),
    probe: (candidate, driver) => cachedProbe(candidate.file, packageVersion, driver),
    simulatorFile: simulatorFile(),
  };
}

function loadCpu(tried: string[]): { binding: NativeBinding; file: string } {
  let file: string;
  try {
    file = resolveCpuAddon();
  } catch (error) {
    tried.push(`node-gyp-build in ${packageRoot} (build/Release, prebuilds/): ${(error as Error).message.split('\n')[0]}`);
    throw error;
  }
  tried.push(file);
  return { binding: loadFile(file), file };
}

type Loaded = { binding: NativeBinding; report: LoadReport };

function execute(decision: Decision, tried: string[]): Loaded {
  const plan = decision.plan;
  const notice = decision.notice;
  switch (plan.kind) {
    case 'file': {
      const file = path.resolve(plan.file);
      tried.push(`STEPRL_BINARY=${plan.file}`);
      return { binding: loadFile(file), report: { origin: 'STEPRL_BINARY', file, decision, notice } };
    }
    case 'cuda-sim':
      tried.push(plan.file);
      return { binding: loadFile(plan.file), report: { origin: 'cuda-sim dev build', file: plan.file, decision, notice } };
    case 'cuda': {
      const file = plan.candidate.file;
      tried.push(file);
      let cuda: NativeBinding;
      try {
        cuda = loadFile(file);
      } catch (error) {
        if (plan.requireDevice) throw error;
        // The probe loaded it in a child, so this is rare: say so and use the CPU addon.
        const fallback = `steprl: using the CPU backend: ${plan.candidate.label} passed its probe but failed to load here (${(error as Error).message.split('\n')[0]})`;
        const cpu = loadCpu(tried);
        return { binding: cpu.binding, report: { origin: cpuOrigin(cpu.file), file: cpu.file, decision, notice: fallback } };
      }
      // The static CUDA runtime loads without a driver; a GPU is only found (or not) here.
      const device = cuda.deviceInfo?.();
      if (plan.requireDevice && (device === undefined || device.deviceCount === 0))
        throw new BackendError(
          `steprl's CUDA addon (${file}) loaded but found no usable GPU (${device?.error ?? 'no deviceInfo'}). ` +
            'Install an NVIDIA driver, or use STEPRL_BACKEND=cpu, or STEPRL_BACKEND=cuda-sim for the simulated CUDA kernels.',
        );
      return { binding: cuda, report: { origin: plan.candidate.origin, file, decision, notice } };
    }
    case 'cpu': {
      const cpu = loadCpu(tried);
      return { binding: cpu.binding, report: { origin: cpuOrigin(cpu.file), file: cpu.file, decision, notice } };
    }
  }
}

function load(): Loaded {
  const tried: string[] = [];
  const decision = selectBackend(defaultSelectDeps());
  let notice = decision.notice;
  try {
    const result = execute(decision, tried);
    notice = result.report.notice;
    return result;
  } catch (error) {
    if (error instanceof BackendError) throw error;
    const reason = (error as Error).message.split('\n')[0];
    throw new BackendError(
      `steprl could not load its native addon (${reason}).\nTried:\n  ${tried.join('\n  ')}\n` +
        'Fix: run `npm rebuild steprl` (needs a C++ toolchain: python3, make, g++), or for the CUDA ' +
        'simulator `npm run build:cuda-sim`; STEPRL_BACKEND selects cpu|cuda|cuda-sim, `steprl doctor` explains the choice.',
    );
  } finally {
    // Once per process, whatever happens next.
    if (notice !== null && !noticePrinted) {
      noticePrinted = true;
      process.stderr.write(`${notice}\n`);
    }
  }
}

let guarded: { addon: NativeBinding; binding: NativeBinding } | null = null;

/**
 * The loaded addon (loaded on first use), seen through in_flight.ts's guard: an async call keeps
 * the tensors it reads alive until its promise settles. Every native call goes through here.
 */
export function binding(): NativeBinding {
  if (loaded === null) loaded = load();
  if (guarded === null || guarded.addon !== loaded.binding) guarded = { addon: loaded.binding, binding: guardBinding(loaded.binding) };
  return guarded.binding;
}

/** Where the loaded addon came from, e.g. "prebuild /.../prebuilds/linux-x64/steprl.glibc.node". */
export function bindingSource(): string {
  const report = loadReport();
  return report.file === null ? report.embedder ?? report.origin : `${report.origin} ${report.file}`;
}

/** What was loaded, from where, and why (loads the addon if it is not loaded yet). */
export function loadReport(): LoadReport {
  binding();
  return loaded!.report;
}

/** For embedders: use this binding object instead of loading one. Must be called before first use. */
export function useBinding(custom: NativeBinding, source = 'embedder'): void {
  if (loaded !== null && loaded.binding !== custom)
    throw new BackendError('steprl: useBinding() must be called before any tensor or op is used');
  loaded = { binding: custom, report: { origin: 'embedder', file: null, decision: null, notice: null, embedder: source } };
}
