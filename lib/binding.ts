// binding.ts: the only file that loads a native addon.
//
// Order: a binding object handed in by an embedder (useBinding), then STEPRL_BINARY=/path.node,
// then STEPRL_BACKEND=cpu|cuda|cuda-sim|auto (default auto). The CPU addon is found through
// node-gyp-build (build/Release first, then prebuilds/). A failed load lists every place tried
// and how to fix it.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { BackendError } from './errors';
import type { NativeBinding } from './native';

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

let loaded: { binding: NativeBinding; source: string } | null = null;

function loadFile(file: string): NativeBinding {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as NativeBinding;
}

function loadCpu(tried: string[]): NativeBinding {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeBinding;
    return nodeGypBuild(packageRoot);
  } catch (error) {
    tried.push(`node-gyp-build in ${packageRoot} (build/Release, prebuilds/): ${(error as Error).message.split('\n')[0]}`);
    throw error;
  }
}

const simulatorFile = (): string => path.join(packageRoot, 'build-cuda-sim', 'Release', 'steprl.node');
const cudaFile = (): string => path.join(packageRoot, 'build-cuda', 'Release', 'steprl.node');

function load(): { binding: NativeBinding; source: string } {
  const tried: string[] = [];
  const explicitBinary = process.env.STEPRL_BINARY;
  const backend = (process.env.STEPRL_BACKEND ?? 'auto').toLowerCase();
  try {
    if (explicitBinary) {
      tried.push(`STEPRL_BINARY=${explicitBinary}`);
      return { binding: loadFile(path.resolve(explicitBinary)), source: explicitBinary };
    }
    switch (backend) {
      case 'cpu':
      case 'auto':
        return { binding: loadCpu(tried), source: 'cpu (node-gyp-build)' };
      case 'cuda-sim': {
        const file = simulatorFile();
        tried.push(file);
        return { binding: loadFile(file), source: file };
      }
      case 'cuda': {
        const file = cudaFile();
        tried.push(file);
        const cuda = loadFile(file);
        // The static CUDA runtime loads without a driver; a GPU is only found (or not) here.
        const device = cuda.deviceInfo?.();
        if (device === undefined || device.deviceCount === 0)
          throw new BackendError(
            `steprl's CUDA addon (${file}) loaded but found no usable GPU (${device?.error ?? 'no deviceInfo'}). ` +
              'Install an NVIDIA driver, or use STEPRL_BACKEND=cpu, or STEPRL_BACKEND=cuda-sim for the simulated CUDA kernels.',
          );
        return { binding: cuda, source: file };
      }
      default:
        throw new BackendError(
          `Expected one of cpu, cuda, cuda-sim, auto for STEPRL_BACKEND but received ${JSON.stringify(backend)}`,
        );
    }
  } catch (error) {
    if (error instanceof BackendError) throw error;
    const reason = (error as Error).message.split('\n')[0];
    throw new BackendError(
      `steprl could not load its native addon (${reason}).\nTried:\n  ${tried.join('\n  ')}\n` +
        'Fix: run `npm rebuild steprl` (needs a C++ toolchain: python3, make, g++), or for the CUDA ' +
        'simulator `npm run build:cuda-sim`; STEPRL_BACKEND selects cpu|cuda|cuda-sim.',
    );
  }
}

/** The loaded addon (loaded on first use). */
export function binding(): NativeBinding {
  if (loaded === null) loaded = load();
  return loaded.binding;
}

/** Where the loaded addon came from. */
export function bindingSource(): string {
  binding();
  return loaded!.source;
}

/** For embedders: use this binding object instead of loading one. Must be called before first use. */
export function useBinding(custom: NativeBinding, source = 'embedder'): void {
  if (loaded !== null && loaded.binding !== custom)
    throw new BackendError('steprl: useBinding() must be called before any tensor or op is used');
  loaded = { binding: custom, source };
}
