// storage.ts: the memory behind a Tensor and its views, reference-counted: a tensor and every
// reshape() of it share one Storage box; a view() is a box of its own, a window that keeps its
// parent's box alive. A box is released when its last tensor is disposed, and not before an async
// op reading it settles (pending, in_flight.ts): device memory goes back to the device cache,
// memory the addon allocated to its pool. live counts what memory() reports.
import { binding } from './binding';
import { typedArrayKind, type TypedArray } from './dtype';
import { trackStorage } from './in_flight';
import type { NativeStorage } from './native';

/** Live counts for memory(): tensor handles not yet disposed, storage boxes not yet released. */
export const live = { tensors: 0, storages: 0 };

/** Storage shared by a tensor and its reshaped views; `owned` when the addon allocated it. */
export class Storage {
  refs = 1;
  pending = 0;
  releaseWhenIdle = false;
  /** For a view: the storage it is a window into, kept alive while the view lives. */
  parent: Storage | null = null;
  constructor(public data: NativeStorage | null, readonly owned: boolean) {
    // An async op given this storage holds it (pending) until it settles: in_flight.ts.
    if (data !== null) {
      trackStorage(data, this);
      live.storages++;
    }
  }

  release(): void {
    const data = this.data;
    this.data = null;
    if (data === null) return;
    live.storages--;
    if (this.parent !== null) {
      const parent = this.parent;
      this.parent = null;
      if (typedArrayKind(data) === null) (data as { dispose(): void }).dispose();
      if (--parent.refs === 0) {
        if (parent.pending > 0) parent.releaseWhenIdle = true;
        else parent.release();
      }
      return;
    }
    if (typedArrayKind(data) === null) (data as { dispose(): void }).dispose();
    else if (this.owned) binding().releaseStorage(data as TypedArray);
  }
}

/**
 * How many tensors are alive now: `tensors` handles not yet disposed (views count as their own
 * handles) and `storages` memory blocks and view windows not yet released. A training loop whose
 * counts grow from step to step leaks.
 */
export function memory(): { tensors: number; storages: number } {
  return { ...live };
}
