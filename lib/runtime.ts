// runtime.ts: what the loaded backend is and how it runs (threads, SIMD level, the CUDA device and
// its stream), for users, `steprl doctor` and the benches.
import { binding, bindingSource } from './binding';
import { callNative } from './native_call';
import { checkEnum, checkNumber } from './validate';
import { SIMD_LEVEL_NAMES, type NativeDeviceInfo, type NativeInfo, type SimdLevelName } from './native';

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
export function setSimdLevel(level: SimdLevelName): string {
  return binding().setSimdLevel(checkEnum('level', level, SIMD_LEVEL_NAMES, 'avx512'));
}

/** Measures this machine's memory-read bandwidth in GB/s (best of `repeats` passes). */
export function probeReadBandwidth(bytes = 512 * 2 ** 20, repeats = 5): number {
  return binding().probeReadBandwidth(
    checkNumber('bytes', bytes, 512 * 2 ** 20, { integer: true, min: 1 }),
    checkNumber('repeats', repeats, 5, { integer: true, min: 1, max: 1000 }),
  );
}

/** Measures this machine's fp32 FMA rate in GFLOP/s, every pool thread, active SIMD level (best of `repeats`). */
export function probeFmaPeak(milliseconds = 200, repeats = 5): number {
  return binding().probeFmaPeak(
    checkNumber('milliseconds', milliseconds, 200, { above: 0, max: 60000 }),
    checkNumber('repeats', repeats, 5, { integer: true, min: 1, max: 1000 }),
  );
}

/**
 * Host memory the addon holds: `liveBytes` in use (tensors, and the per-call scratch of CPU ops in
 * flight, of which `scratchBytes`), and `cachedBytes` kept for reuse after dispose() (at most
 * `cacheLimitBytes`). The scratch of an async op comes and goes while the op runs on its worker, so
 * the bytes held by tensors are `liveBytes - scratchBytes` (both read at once).
 */
export function hostMemory(): { liveBytes: number; scratchBytes: number; cachedBytes: number; cacheLimitBytes: number } {
  return binding().hostMemory();
}

/** Returns the addon's cached (disposed) host blocks to the system. */
export function trimHostCache(): void {
  binding().trimHostCache();
}

/**
 * Waits until every kernel and copy queued on the CUDA stream has finished (CUDA backends; a
 * no-op on the cpu, whose ops finish before they return). Time GPU work with it.
 */
export function synchronize(): void {
  const native = binding();
  if (native.synchronize !== undefined) callNative(() => native.synchronize!());
}

/**
 * The CUDA device of this backend: count, name, memory, and the caching allocator's statistics;
 * null on the cpu backend. Never throws for a missing driver or GPU: deviceCount is 0 and `error`
 * says why.
 */
export function cudaInfo(): NativeDeviceInfo | null {
  const native = binding();
  return native.deviceInfo === undefined ? null : native.deviceInfo();
}

/** Returns the device memory cached by disposed cuda tensors to CUDA (no-op on the cpu). */
export function trimDeviceCache(): void {
  const native = binding();
  if (native.trimDeviceCache !== undefined) callNative(() => native.trimDeviceCache!());
}
