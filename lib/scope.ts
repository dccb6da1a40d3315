// scope.ts: memory that does not leak by accident. `scope(fn)` (TensorFlow.js's `tidy`) runs fn and
// then disposes every tensor created while it ran (views from reshape() and view() included) except
// those fn returns (found in the returned value: a tensor, or arrays / plain objects holding tensors,
// at any depth; not inside class instances) and those passed to keep(). Returned tensors move to
// the enclosing scope, if any.
//
// fn may be async: the scope then closes when its promise settles, after every async op started
// inside it has settled too (in_flight.ts reports them here), so no output of such an op appears
// after the scope has freed its tensors. The current scope is carried by Node's AsyncLocalStorage,
// not by a global stack, so scopes awaited concurrently (Promise.all over two async scopes) each see
// their own tensors. A tensor made after its scope closed (an op left running in a sync scope) goes
// to the nearest open enclosing scope, or to none. A thrown error frees the scope's tensors too.
//
// Long-lived tensors a library object keeps across calls (model weights, activation caches,
// optimizer state) are made under untracked(fn) or handed to keep(), so no caller's scope frees them.
import { AsyncLocalStorage } from 'node:async_hooks';
import { ArgumentError } from './errors';

/** What a scope owns: a Tensor (only dispose() is needed here, which keeps tensor.ts out of this file's imports). */
export interface ScopedTensor {
  dispose(): void;
}

/** One open (or closed) scope; tensors and in-flight ops are registered on the current one. */
export class TensorScope {
  readonly #owned = new Set<ScopedTensor>();
  readonly #inFlight = new Set<PromiseLike<unknown>>();
  #open = true;
  constructor(readonly parent: TensorScope | null) {}

  get open(): boolean {
    return this.#open;
  }
  /** Tensors this scope will dispose when it closes. */
  get size(): number {
    return this.#owned.size;
  }

  /** The scope that takes a tensor made now: this one, or the nearest open one around it. */
  static receiver(scope: TensorScope | null | undefined): TensorScope | null {
    let s = scope ?? null;
    while (s !== null && !s.#open) s = s.parent;
    return s;
  }

  adopt(tensor: ScopedTensor): void {
    this.#owned.add(tensor);
  }
  forget(tensor: ScopedTensor): boolean {
    return this.#owned.delete(tensor);
  }
  owns(tensor: ScopedTensor): boolean {
    return this.#owned.has(tensor);
  }

  /** An async op started in this scope: an async close waits for it. */
  startOp(promise: PromiseLike<unknown>): void {
    this.#inFlight.add(promise);
    const done = () => void this.#inFlight.delete(promise);
    promise.then(done, done);
  }

  /** Waits for the async ops started in this scope (and any they started) to settle. */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * Closes the scope: the tensors reachable from `result` move to the enclosing scope (or to none),
   * every other tensor it owns is disposed.
   */
  close(result: unknown): void {
    this.#open = false;
    const survivors = new Set<ScopedTensor>();
    collect(result, this.#owned, survivors, new Set());
    const to = TensorScope.receiver(this.parent);
    const owned = [...this.#owned];
    this.#owned.clear();
    let failure: unknown = null;
    for (const tensor of owned) {
      if (survivors.has(tensor)) {
        to?.adopt(tensor);
        moveOwner(tensor, to);
        continue;
      }
      try {
        tensor.dispose();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== null) throw failure;
  }
}

/** The tensors among `owned` reachable from `value` through arrays, plain objects, Maps and Sets. */
function collect(value: unknown, owned: Set<ScopedTensor>, into: Set<ScopedTensor>, seen: Set<object>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (owned.has(value as ScopedTensor)) {
    into.add(value as ScopedTensor);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) collect(item, owned, into, seen);
  } else if (value instanceof Map) {
    for (const item of value.values()) collect(item, owned, into, seen);
  } else if (value instanceof Set) {
    for (const item of value) collect(item, owned, into, seen);
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) for (const item of Object.values(value)) collect(item, owned, into, seen);
  }
}

const current = new AsyncLocalStorage<TensorScope | null>();

/** Tensor's hook: which scope owns a tensor it makes now, and how to move it (set in tensor.ts). */
let moveOwner: (tensor: ScopedTensor, to: TensorScope | null) => void = () => undefined;
/** @internal */
export function setOwnerHook(hook: (tensor: ScopedTensor, to: TensorScope | null) => void): void {
  moveOwner = hook;
}

/** @internal The scope a tensor made now belongs to (null outside every scope or inside untracked()). */
export function currentScope(): TensorScope | null {
  return TensorScope.receiver(current.getStore());
}

/** @internal Called by the in-flight guard for every async native call. */
export function noteAsyncOp(promise: PromiseLike<unknown>): void {
  currentScope()?.startOp(promise);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Runs `fn` in a new scope and frees, when it ends, every tensor made inside that is not returned
 * or kept. With an async `fn` the scope ends when its promise settles and every async op started in
 * it has settled. Errors thrown (or rejected) by fn propagate after the scope's tensors are freed.
 *
 * ```ts
 * const loss = await scope(async () => {
 *   const logits = await model.forward(tokens);            // temporaries: freed at the end
 *   const lp = ops.tokenLogprobs(logits.reshape([N, V]), targets);
 *   return lp.logprobs;                                     // survives
 * });
 * ```
 */
export function scope<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw ArgumentError.expected('fn', 'a function', fn);
  const s = new TensorScope(currentScope());
  let result: T;
  try {
    result = current.run(s, fn);
  } catch (error) {
    closeAfterError(s);
    throw error;
  }
  if (!isThenable(result)) {
    s.close(result);
    return result;
  }
  return (async () => {
    let value: Awaited<T>;
    try {
      value = await (result as PromiseLike<Awaited<T>>);
    } catch (error) {
      await s.settle();
      closeAfterError(s);
      throw error;
    }
    await s.settle();
    s.close(value);
    return value;
  })() as T;
}

/** Closing after fn failed: the original error wins over one from a dispose. */
function closeAfterError(s: TensorScope): void {
  try {
    s.close(undefined);
  } catch {
    // fn's error is the one the caller needs to see.
  }
}

/** Runs `fn` outside every scope: tensors made inside belong to no scope (a model's caches, optimizer state). */
export function untracked<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw ArgumentError.expected('fn', 'a function', fn);
  return current.run(null, fn);
}

/** Whether code running now is inside a scope (tensors made now will be freed by one). */
export function inScope(): boolean {
  return currentScope() !== null;
}
