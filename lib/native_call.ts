// native_call.ts: the one way the TypeScript layer calls into the addon. callNative turns the
// addon's errors into typed ones (lib/errors.ts). nativeOp builds an op's sync and async forms from
// one recipe (validate -> call -> wrap), so the forms cannot drift apart: the async form runs the
// same checks, then the same addon function with async = true, and wraps what its promise gives.
// Keeping the inputs alive while a promise is pending is the binding's own job (in_flight.ts).
import { fromNative } from './errors';
import type { NativeResult } from './native';

/** Calls into the addon, converting its errors into typed ones. */
export function callNative<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw fromNative(error);
  }
}

/** callNative for an addon call that returns a promise (its rejection is converted too). */
export async function callNativeAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw fromNative(error);
  }
}

export interface NativeOp<Args extends unknown[], R> {
  sync(...args: Args): R;
  async(...args: Args): Promise<R>;
}

/**
 * An op's sync and async forms: `prepare` validates the arguments (throwing typed errors; in the
 * async form they become a rejected promise), `call` runs the addon function with the given async
 * flag, `wrap` turns its result into the op's.
 */
export function nativeOp<Args extends unknown[], P, N, R>(
  prepare: (...args: Args) => P,
  call: <A extends boolean>(prepared: P, async: A) => NativeResult<A, N>,
  wrap: (out: N, prepared: P) => R,
): NativeOp<Args, R> {
  return {
    sync: (...args: Args): R => {
      const prepared = prepare(...args);
      return wrap(callNative(() => call(prepared, false)), prepared);
    },
    async: async (...args: Args): Promise<R> => {
      const prepared = prepare(...args);
      return wrap(await callNativeAsync(() => call(prepared, true)), prepared);
    },
  };
}
