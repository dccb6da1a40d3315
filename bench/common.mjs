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

/**
 * Exclusive CPU accounting of wrapped calls, for the profile scripts (rl_step_profile.mjs,
 * grpo_update_profile.mjs): each wrapped call's CPU seconds (process.cpuUsage: every thread, the
 * native pool's included), wall seconds and minor page faults go to its row. `nested`:
 *   'exclusive'  a call's row gets its elapsed time less that of the wrapped calls it makes (each
 *                of those gets its own row); sync calls and promise-returning ones (their elapsed
 *                time runs to settlement: wrapped calls must not run interleaved).
 *   'outer'      a wrapped call made inside another is not charged on its own: the outer row
 *                gets all of it (sync calls).
 * A row's `flops` add up flopsOf(...args) per charged call.
 */
export function cpuLedger({ nested = 'exclusive' } = {}) {
  if (nested !== 'exclusive' && nested !== 'outer') throw new Error(`cpuLedger: nested must be 'exclusive' or 'outer' but received ${nested}`);
  const stats = new Map();
  const stack = [];
  const cpuNow = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1e6; };
  const faultsNow = () => process.resourceUsage().minorPageFault;
  const enter = (row, flops) => {
    stack.push({ row, flops, cpu: cpuNow(), wall: performance.now(), faults: faultsNow(), childCpu: 0, childWall: 0, childFaults: 0 });
  };
  const leave = () => {
    const f = stack.pop();
    const cpu = cpuNow() - f.cpu, wall = (performance.now() - f.wall) / 1e3, faults = faultsNow() - f.faults;
    const s = stats.get(f.row) ?? { cpu: 0, wall: 0, faults: 0, calls: 0, flops: 0 };
    s.cpu += cpu - f.childCpu;
    s.wall += wall - f.childWall;
    s.faults += faults - f.childFaults;
    s.flops += f.flops;
    s.calls += 1;
    stats.set(f.row, s);
    const parent = stack[stack.length - 1];
    if (parent) { parent.childCpu += cpu; parent.childWall += wall; parent.childFaults += faults; }
  };
  /** fn wrapped: its calls charged to `row` (a name, or a function of the call's arguments giving one). */
  const charged = (row, fn, flopsOf) => function (...args) {
    if (nested === 'outer' && stack.length > 0) return fn.apply(this, args);
    enter(typeof row === 'function' ? row(...args) : row, flopsOf ? flopsOf(...args) : 0);
    let out;
    try { out = fn.apply(this, args); } catch (e) { leave(); throw e; }
    if (out && typeof out.then === 'function') return out.then((v) => { leave(); return v; }, (e) => { leave(); throw e; });
    leave();
    return out;
  };
  return {
    stats, charged, cpuNow, faultsNow,
    /** Replaces mod[name] by its charged wrapper (row defaults to the name). */
    wrap(mod, name, row, flopsOf) { mod[name] = charged(row ?? name, mod[name], flopsOf); },
    /** Runs fn() charged to row. */
    charge(row, fn) { return charged(row, fn)(); },
  };
}

/**
 * A thread that reads the process's CPU time (process.cpuUsage() is process-wide: every thread,
 * the native pool's included) every `intervalMs` while the main thread may be blocked in native
 * code for seconds, so a stretch of the run can be split into intervals with few cores busy.
 * lowStretches(from, to, threshold) looks at the sample intervals inside [from, to] (main-thread
 * performance.now() ms) and returns { coresBusy, lowFraction, longestLowSeconds, samples }:
 * the mean cores busy over them, the fraction of their time with fewer than `threshold` cores busy,
 * and the longest run of consecutive such intervals, in seconds.
 */
export async function cpuTimeline(intervalMs = 50) {
  const { Worker } = await import('node:worker_threads');
  const capacity = 1 << 20;
  const samples = new Float64Array(new SharedArrayBuffer(8 * 2 * capacity));
  const count = new Int32Array(new SharedArrayBuffer(4));
  const origin = performance.timeOrigin;
  const thread = new Worker(`
    const { workerData: { samples, count, origin, intervalMs } } = require('node:worker_threads');
    const tick = () => {
      const i = Atomics.load(count, 0);
      if (i < 0 || 2 * i + 1 >= samples.length) return;
      const c = process.cpuUsage();
      samples[2 * i] = performance.timeOrigin + performance.now() - origin;
      samples[2 * i + 1] = (c.user + c.system) / 1e6;
      Atomics.store(count, 0, i + 1);
      setTimeout(tick, intervalMs);
    };
    tick();
  `, { eval: true, workerData: { samples, count, origin, intervalMs } });
  thread.unref();
  return {
    intervalMs,
    lowStretches(from, to, threshold) {
      const n = Atomics.load(count, 0);
      let covered = 0, cpu = 0, low = 0, run = 0, longest = 0, used = 0;
      for (let i = 1; i < n; i++) {
        const t0 = samples[2 * (i - 1)], t1 = samples[2 * i];
        if (t0 < from || t1 > to) continue;
        const dt = (t1 - t0) / 1e3, dc = samples[2 * i + 1] - samples[2 * i - 1];
        covered += dt;
        cpu += dc;
        used++;
        if (dc / dt < threshold) {
          low += dt;
          run += dt;
          longest = Math.max(longest, run);
        } else {
          run = 0;
        }
      }
      return { coresBusy: covered > 0 ? cpu / covered : null, lowFraction: covered > 0 ? low / covered : null, longestLowSeconds: longest, samples: used };
    },
    stop() {
      Atomics.store(count, 0, -1);
      return thread.terminate();
    },
  };
}
