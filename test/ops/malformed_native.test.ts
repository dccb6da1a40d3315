// malformed_native.test.ts: every function the addon exports, called directly (past the
// TypeScript checks) with malformed arguments: missing, wrong types, non-finite and huge numbers,
// typed arrays of the wrong kind or length, detached buffers, disposed device buffers. Each call
// must either return or throw an Error with a message; none may crash the process, and under
// `npm run test:asan` none may touch memory it does not own. The op suites check the messages of
// the errors users meet; this file checks that nothing slips past the native argument checks.
// Runs on the CPU addon and (device suites) on the simulator addon.
import { binding } from '../../lib/binding';
import { devices } from '../util/devices';

type Fn = (...args: unknown[]) => unknown;

function detached(): Float32Array {
  const a = new Float32Array(8);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}

/** Values that are wrong almost everywhere. */
function junk(): unknown[] {
  const native = binding();
  const values: unknown[] = [
    undefined, null, -1, 0, 1.5, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 40), 'k3', '', true, {}, [], () => 1, Symbol('x'), 10n,
    new Float32Array(0), new Float32Array(3), new Int32Array(3).fill(-5), new Uint16Array(3), new Uint8Array(3).fill(7), new Float64Array(3),
    new DataView(new ArrayBuffer(8)), detached(), new Float32Array(new SharedArrayBuffer(12)),
  ];
  if (native.toDevice !== undefined) {
    const live = native.toDevice(new Float32Array(3));
    const dead = native.toDevice(new Int32Array(3));
    dead.dispose();
    values.push(live, dead);
  }
  return values;
}

function checkError(error: unknown): void {
  const message = (error as { message?: unknown } | null)?.message;
  if (Object.prototype.toString.call(error) !== '[object Error]' || typeof message !== 'string' || message === '')
    throw new Error(`expected an Error with a message but caught ${String(error)}`);
}

/**
 * Calls fn: it must return or throw an Error (any realm) with a message; a promise it returns (an
 * async flag that happened to be true) joins `pending`, to settle the same way.
 */
function outcome(fn: Fn, args: unknown[], pending: Promise<unknown>[]): void {
  try {
    const result = fn(...args) as { then?: unknown } | undefined;
    if (result !== null && typeof result === 'object' && typeof result.then === 'function')
      pending.push((result as Promise<unknown>).then(() => undefined, checkError));
  } catch (error) {
    checkError(error);
  }
}

// Functions that change process-wide state or release memory when given valid arguments: called
// only with arguments that must be refused, and the state is restored afterwards.
const STATEFUL = new Set(['setNumThreads', 'setSimdLevel', 'releaseStorage', 'trimHostCache', 'trimDeviceCache', 'synchronize', 'probeReadBandwidth']);

describe(`malformed arguments straight into the addon (${devices().join(', ')})`, () => {
  const native = binding() as unknown as Record<string, unknown>;
  const names = Object.keys(native).filter((k) => typeof native[k] === 'function').sort();

  afterAll(() => {
    binding().setNumThreads(0);
    binding().setSimdLevel(binding().info().simdSupported);
  });

  test('the addon exports functions', () => {
    expect(names).toEqual(expect.arrayContaining(['tokenLogprobs', 'klPenalty', 'policyLoss', 'releaseStorage']));
  });

  test.each(names)('%s: every malformed call returns or throws an Error', async (name) => {
    const fn = native[name] as Fn;
    const pending: Promise<unknown>[] = [];
    const values = junk();
    let calls = 0;
    for (const value of values) {
      if (STATEFUL.has(name) && typeof value === 'number' && Number.isFinite(value) && value >= 0) continue;
      // The same wrong value in every position, for arities 1 to 24.
      for (const arity of [1, 2, 5, 24]) {
        outcome(fn, new Array(arity).fill(value), pending);
        calls++;
      }
      if (STATEFUL.has(name)) continue;
      // Plausible-looking tensors and sizes with one malformed value swept through the positions.
      for (let at = 0; at < 20; at++) {
        const args: unknown[] = [new Float32Array(6), new Float32Array(6), new Int32Array(6), new Float32Array(6), new Float32Array(6), 2, 3, 2, 3, 1, 1, 0.2, 0.2, null, 0, 'k3', 'token-mean', null, null, null, 1, false];
        args[at] = value;
        outcome(fn, args, pending);
        calls++;
      }
    }
    outcome(fn, [], pending);
    await Promise.all(pending);
    expect(calls).toBeGreaterThan(0);
  });
});
