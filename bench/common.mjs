// common.mjs: what every bench file shares: the built package, the float64 references from
// test/reference (compiled by `npm run bench` into build/bench-ref), a seeded PRNG, and helpers
// that describe a row of the table (bytes each call must move; the H100 time floor they imply;
// whether a real GPU is there to add CUDA rows).
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const steprl = require(root);
export const reference = (family) => require(path.join(root, 'build', 'bench-ref', 'test', 'reference', `${family}.js`));
export const { Rng } = require(path.join(root, 'build', 'bench-ref', 'test', 'util', 'random.js'));

export const MiB = 2 ** 20;

/** H100 SXM HBM3 bandwidth, bytes/s: a row's bytes / this = the least time the kernel can take. */
export const H100_BYTES_PER_SECOND = 3.35e12;

/**
 * The CUDA device when the loaded backend has a real one (STEPRL_BACKEND=cuda on a GPU machine),
 * else null: the simulator's timings say nothing about a GPU, so it gets no CUDA rows.
 */
export function realCudaDevice() {
  const info = steprl.cudaInfo();
  return info !== null && info.deviceCount > 0 && !info.simulated ? info : null;
}

/** Largest relative difference, for the pre-timing correctness check of each bench. */
export function maxRelativeError(actual, expected, floor = 1e-6) {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i], a = actual[i];
    if (e === a || (Number.isNaN(e) && Number.isNaN(a))) continue;
    worst = Math.max(worst, Math.abs(a - e) / Math.max(Math.abs(e), floor));
  }
  return worst;
}

export function assertClose(name, actual, expected, tolerance = 2e-5, floor = 1e-6) {
  const error = maxRelativeError(actual, expected, floor);
  if (!(error <= tolerance)) throw new Error(`bench ${name}: result differs from the float64 reference (max rel. error ${error})`);
}
