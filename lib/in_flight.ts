// in_flight.ts: the input-lifetime guard of every async native call, in the one place all of them
// pass through: the binding object itself (lib/binding.ts hands out guardBinding(addon), never the
// raw addon).
//
// An async op returns a Promise at once while an addon worker thread still reads (and writes) the
// storage it was given. Tensor.dispose() of an addon-made cpu tensor frees its memory at once
// (releaseStorage), so a tensor disposed while such a promise is pending would leave the worker
// reading freed memory. Every Tensor storage box registers here (trackStorage); when any addon
// function returns a promise, each storage among its arguments is marked pending until the
// promise settles, and a dispose in between only marks the box to be released when idle. No op
// can forget this: it is not something an op does, it is what calling the addon does. Nothing
// runs between the addon returning the promise and the marking (both are one synchronous call on
// the JS thread), so no dispose can slip in before it. The call is also reported to the current
// scope (scope.ts), whose async close waits for it before freeing the scope's tensors.
import { noteAsyncOp } from './scope';

/** What Tensor's storage box exposes to the guard (storage.ts: class Storage). */
export interface GuardedStorage {
  pending: number;
  releaseWhenIdle: boolean;
  release(): void;
}

const boxes = new WeakMap<object, GuardedStorage>();

/** Registers `box` as the owner of `data` (a typed array or DeviceBuffer handed to the addon). */
export function trackStorage(data: object, box: GuardedStorage): void {
  boxes.set(data, box);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

/** The storage boxes behind `args` (top level, and one level into arrays). */
function boxesOf(args: readonly unknown[]): GuardedStorage[] {
  const found: GuardedStorage[] = [];
  const visit = (value: unknown, depth: number) => {
    if (value === null || typeof value !== 'object') return;
    const box = boxes.get(value);
    if (box !== undefined) found.push(box);
    else if (depth === 0 && Array.isArray(value)) for (const item of value) visit(item, 1);
  };
  for (const arg of args) visit(arg, 0);
  return found;
}

/** Keeps the storage behind `args` alive until `promise` settles; returns a promise of its result. */
export function holdWhileInFlight<T>(args: readonly unknown[], promise: PromiseLike<T>): Promise<T> {
  const held = boxesOf(args);
  for (const box of held) box.pending++;
  const done = () => {
    for (const box of held) {
      box.pending--;
      if (box.pending === 0 && box.releaseWhenIdle) {
        box.releaseWhenIdle = false;
        box.release();
      }
    }
  };
  const guarded = Promise.resolve(promise).then(
    (value) => {
      done();
      return value;
    },
    (error: unknown) => {
      done();
      throw error;
    },
  );
  noteAsyncOp(guarded);
  return guarded;
}

/**
 * The addon seen through the guard: every function property is called as is, and when it returns
 * a promise (an op run with async = true, or any async export added later) the storage among its
 * arguments is held until that promise settles. Other properties pass through unchanged.
 */
export function guardBinding<B extends object>(addon: B): B {
  const wrapped = new Map<PropertyKey, { original: unknown; call: (...args: unknown[]) => unknown }>();
  return new Proxy(addon, {
    get(target, key) {
      const value = Reflect.get(target, key) as unknown;
      if (typeof value !== 'function') return value;
      let entry = wrapped.get(key);
      if (entry === undefined || entry.original !== value) {
        const fn = value as (...args: unknown[]) => unknown;
        entry = {
          original: fn,
          call: (...args: unknown[]): unknown => {
            const result = fn.apply(target, args);
            return isThenable(result) ? holdWhileInFlight(args, result) : result;
          },
        };
        wrapped.set(key, entry);
      }
      return entry.call;
    },
  });
}
