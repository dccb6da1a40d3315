// runtime.ts: what the loaded backend is and how it runs (threads, SIMD level), for users,
// `steprl doctor` and the benches.
import { binding, bindingSource } from './binding';
import { checkEnum, checkNumber } from './ops/validate';
import type { NativeInfo } from './native';

export interface BackendInfo extends NativeInfo {
  /** Where the addon was loaded from. */
  source: string;
}

export function backendInfo(): BackendInfo {
  return { ...binding().info(), source: bindingSource() };
}

/** Threads the CPU kernels use (0 = all hardware threads). Results do not depend on it. */
export function setNumThreads(threads: number): number {
  return binding().setNumThreads(checkNumber('threads', threads, 0, { integer: true, min: 0, max: 256 }));
}

/** Caps the instruction set the CPU kernels use (for testing every path on one machine). */
export function setSimdLevel(level: 'scalar' | 'avx2' | 'avx512'): string {
  return binding().setSimdLevel(checkEnum('level', level, ['scalar', 'avx2', 'avx512'] as const, 'avx512'));
}

/** Measures this machine's memory-read bandwidth in GB/s (best of `repeats` passes). */
export function probeReadBandwidth(bytes = 512 * 2 ** 20, repeats = 5): number {
  return binding().probeReadBandwidth(
    checkNumber('bytes', bytes, 512 * 2 ** 20, { integer: true, min: 1 }),
    checkNumber('repeats', repeats, 5, { integer: true, min: 1, max: 1000 }),
  );
}

/** Host memory the addon holds: live in tensors, and cached for reuse after dispose(). */
export function hostMemory(): { liveBytes: number; cachedBytes: number; cacheLimitBytes: number } {
  return binding().hostMemory();
}

/** Returns the addon's cached (disposed) host blocks to the system. */
export function trimHostCache(): void {
  binding().trimHostCache();
}
