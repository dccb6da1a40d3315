// simd.ts: runs a test body once per SIMD level this CPU supports and restores the default.
import { backendInfo, setSimdLevel } from '../../lib';

export type SimdName = 'scalar' | 'avx2' | 'avx512';

export function simdLevels(): SimdName[] {
  const best = backendInfo().simdSupported;
  const all: SimdName[] = ['scalar', 'avx2', 'avx512'];
  return all.slice(0, all.indexOf(best) + 1);
}

export function withSimd<T>(level: SimdName, body: () => T): T {
  const before = backendInfo().simd;
  setSimdLevel(level);
  try {
    return body();
  } finally {
    setSimdLevel(before);
  }
}
