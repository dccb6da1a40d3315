// tensor.ts: Tensor, an n-dimensional array on a device, with dtype float32, bfloat16 (raw
// Uint16Array bits), int32 or uint8. On the cpu it wraps a typed array (Tensor.from() with a typed
// array of the matching kind does not copy it: the caller's later writes are visible to ops). On
// 'cuda' (CUDA and simulator backends) it holds a native DeviceBuffer from a caching allocator,
// read back by toArray() or to('cpu'); every op and copy runs on one stream. Shape and dtype live
// here; the addon only sees storage plus sizes. dispose() releases the storage at once (the addon's
// pool, the device cache), and never while an async op still reads it; later use throws. Views share
// the storage (storage.ts: released with the last of them). A tensor made inside scope(fn)
// (scope.ts) is disposed when that scope ends unless fn returns it or keep() is called on it.
// Device -> host reads can be audited (host_reads.ts).
import { binding } from './binding';
import { ArgumentError, DeviceError, DisposedError, ShapeError, describe, fromNative } from './errors';
import { noteHostRead } from './host_reads';
import { currentScope, setOwnerHook, type TensorScope } from './scope';
import type { NativeDeviceBuffer, NativeStorage } from './native';
import { live, Storage } from './storage';
import {
  allocate, DTYPES, dtypeOfArray, fromBFloat16, numelOf, toBFloat16, typedArrayKind, type Device, type DType, type TensorOptions, type TypedArray,
} from './dtype';
import { checkDevice, checkNumbers, checkOptionsObject, checkShape } from './validate';

export { checkDevice, checkOptionsObject, checkShape, fromBFloat16, numelOf, toBFloat16, typedArrayKind };
export type { Device, DType, TensorOptions, TypedArray };
export { countHostReads, type HostRead } from './host_reads';
export { memory } from './storage';

export class Tensor {
  #shape: readonly number[];
  #dtype: DType;
  #device: Device;
  #storage: Storage | null;
  /** The scope that disposes this tensor when it ends (scope.ts); null when none does. */
  #scope: TensorScope | null;

  static {
    setOwnerHook((tensor, to) => {
      (tensor as Tensor).#scope = to;
    });
  }

  private constructor(storage: Storage, shape: readonly number[], dtype: DType, device: Device) {
    this.#storage = storage;
    this.#shape = Object.freeze([...shape]);
    this.#dtype = dtype;
    this.#device = device;
    live.tensors++;
    this.#scope = currentScope();
    this.#scope?.adopt(this);
  }

  /** @internal keep(): no scope disposes this tensor any more. */
  _keep(): this {
    this.#scope?.forget(this);
    this.#scope = null;
    return this;
  }

  /**
   * A tensor from data. A typed array of the dtype's storage kind is wrapped without a copy
   * (Float32Array for float32, Uint16Array of raw bits for bfloat16, Int32Array, Uint8Array);
   * other array-likes of numbers are converted (float32 -> bfloat16 rounds to nearest even).
   */
  static from(data: ArrayLike<number>, shape: readonly number[], options: TensorOptions = {}): Tensor {
    checkOptionsObject('options', options, ['dtype', 'device']);
    const dims = checkShape(shape);
    const arrayDtype = dtypeOfArray(data);
    const dtype = options.dtype ?? arrayDtype ?? 'float32';
    if (!DTYPES.includes(dtype)) throw ArgumentError.expected('options.dtype', `one of ${DTYPES.join(', ')}`, dtype);
    const device = options.device ?? 'cpu';
    checkDevice('options.device', device);
    if (data === null || typeof data !== 'object' || typeof (data as ArrayLike<number>).length !== 'number')
      throw ArgumentError.expected('data', 'a typed array or an array of numbers', data);
    const numel = numelOf(dims);
    if (data.length !== numel)
      throw new ShapeError('data', `Expected ${numel} elements for data of shape [${dims.join(', ')}] but received ${describe(data)}`);
    let storage: TypedArray;
    if (arrayDtype === dtype) {
      storage = data as TypedArray;
    } else if (dtype === 'bfloat16') {
      storage = toBFloat16(checkNumbers('data', data));
    } else {
      storage = allocate(dtype, numel);
      storage.set(checkNumbers('data', data, dtype !== 'float32'));
    }
    const tensor = new Tensor(new Storage(storage, false), dims, dtype, 'cpu');
    if (device === 'cpu') return tensor;
    try {
      return tensor.to(device);
    } finally {
      tensor.dispose();  // the host wrapper was only the copy's source
    }
  }

  /** A zero-filled tensor. */
  static zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
    const dims = checkShape(shape);
    const dtype = options.dtype ?? 'float32';
    if (!DTYPES.includes(dtype)) throw ArgumentError.expected('options.dtype', `one of ${DTYPES.join(', ')}`, dtype);
    return Tensor.from(allocate(dtype, numelOf(dims)), dims, options);
  }

  /**
   * A zero-filled tensor whose memory dispose() returns at once. On the cpu Tensor.zeros' memory is
   * a JS typed array that only garbage collection frees (and whose pages are resident only once
   * written); this one is the addon's host memory, zero-filled (so resident) when made, freed by
   * dispose(). For large buffers whose lifetime the caller manages (activation arenas, KV caches).
   * Device tensors are the same as Tensor.zeros'.
   */
  static zerosReleasable(shape: readonly number[], options: TensorOptions = {}): Tensor {
    checkOptionsObject('options', options, ['dtype', 'device']);
    const device = options.device ?? 'cpu';
    const native = binding();
    if (device !== 'cpu' || native.hostZeros === undefined) return Tensor.zeros(shape, options);
    const dims = checkShape(shape);
    const dtype = options.dtype ?? 'float32';
    if (!DTYPES.includes(dtype)) throw ArgumentError.expected('options.dtype', `one of ${DTYPES.join(', ')}`, dtype);
    return new Tensor(new Storage(native.hostZeros(dtype, numelOf(dims)), true), dims, dtype, 'cpu');
  }

  /** @internal Wraps storage the addon produced (and owns): a typed array is cpu, a DeviceBuffer cuda. */
  static _wrap(storage: NativeStorage, shape: readonly number[], dtype: DType, device?: Device): Tensor {
    return new Tensor(new Storage(storage, true), shape, dtype, device ?? (typedArrayKind(storage) === null ? 'cuda' : 'cpu'));
  }

  get shape(): readonly number[] {
    return this.#shape;
  }
  get dtype(): DType {
    return this.#dtype;
  }
  get device(): Device {
    return this.#device;
  }
  get numel(): number {
    return numelOf(this.#shape);
  }
  get disposed(): boolean {
    return this.#storage === null || this.#storage.data === null;
  }

  /** @internal The storage handed to the addon; throws if disposed. */
  _storage(argument = 'tensor'): NativeStorage {
    const data = this.#storage?.data ?? null;
    if (data === null) throw new DisposedError(argument);
    return data;
  }

  /** A copy of the data as a typed array (raw Uint16Array bits for bfloat16). */
  toArray(): TypedArray {
    const storage = this._storage();
    if (typedArrayKind(storage) === null) {
      const out = callNativeDevice(() => binding().toHost!(storage as NativeDeviceBuffer));
      noteHostRead(out.byteLength, this.#shape);
      return out;
    }
    return (storage as TypedArray).slice();
  }

  /** The data as float32 numbers (bfloat16 widened exactly). */
  toFloat32(): Float32Array {
    const data = this.toArray();
    if (this.#dtype === 'bfloat16') return fromBFloat16(data as Uint16Array);
    return data instanceof Float32Array ? data : Float32Array.from(data);
  }

  /** A tensor with the same data and another shape of the same size (shares storage). */
  reshape(shape: readonly number[]): Tensor {
    const dims = checkShape(shape);
    if (numelOf(dims) !== this.numel)
      throw new ShapeError('shape', `Expected a shape with ${this.numel} elements but received [${dims.join(', ')}]`);
    this._storage();
    this.#storage!.refs++;
    return new Tensor(this.#storage!, dims, this.#dtype, this.#device);
  }

  /**
   * A tensor over the elements [offset, offset + numel(shape)) of this one's flat storage
   * (no copy; writes through the view are writes to this tensor). The storage stays alive while
   * any view of it does. Models carve parameters, gradients and activations out of one buffer so.
   */
  view(offset: number, shape: readonly number[]): Tensor {
    const dims = checkShape(shape);
    const numel = numelOf(dims);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + numel > this.numel)
      throw new ShapeError('offset', `Expected a view inside the ${this.numel} elements of ${this.describe()} but received offset ${offset} with shape [${dims.join(', ')}]`);
    const data = this._storage();
    const window = typedArrayKind(data) !== null
      ? (data as TypedArray).subarray(offset, offset + numel)
      : (data as unknown as { view(offset: number, numel: number): NativeStorage }).view(offset, numel);
    const box = new Storage(window, false);
    box.parent = this.#storage!;
    this.#storage!.refs++;
    return new Tensor(box, dims, this.#dtype, this.#device);
  }

  /** Sets every element to `value` (0 for zeroing gradient buffers); returns this tensor. */
  fill(value: number): this {
    if (typeof value !== 'number') throw ArgumentError.expected('value', 'a number', value);
    const data = this._storage();
    if (typedArrayKind(data) !== null) {
      (data as TypedArray).fill(this.#dtype === 'bfloat16' ? toBFloat16([value])[0] : value);
    } else {
      (data as unknown as { fill(value: number): void }).fill(value);
    }
    return this;
  }

  /** Copies `source` (same dtype and element count, same device) into this tensor; returns it. */
  copyFrom(source: Tensor): this {
    if (!(source instanceof Tensor)) throw ArgumentError.expected('source', 'a Tensor', source);
    if (source.dtype !== this.#dtype || source.numel !== this.numel)
      throw new ShapeError('source', `Expected ${this.numel} ${this.#dtype} elements for source but received ${source.describe()}`);
    if (source.device !== this.#device)
      throw new DeviceError(`Expected source on ${this.#device} but received a tensor on ${source.device}`);
    const data = this._storage();
    const from = source._storage('source');
    if (typedArrayKind(data) !== null) (data as TypedArray).set(from as TypedArray);
    else (data as unknown as { copyFrom(source: NativeStorage): void }).copyFrom(from);
    return this;
  }

  /**
   * This tensor on `device` (itself when already there, else a copy). To 'cuda' the copy is queued
   * on the device's stream; to 'cpu' it waits for every queued kernel that writes this tensor.
   */
  to(device: Device): Tensor {
    checkDevice('device', device);
    const data = this._storage();
    if (device === this.#device) return this;
    const native = binding();
    if (device === 'cpu') {
      const host = callNativeDevice(() => native.toHost!(data as NativeDeviceBuffer));
      noteHostRead(host.byteLength, this.#shape);
      return Tensor._wrap(host, this.#shape, this.#dtype, 'cpu');
    }
    if (native.toDevice === undefined) throw new DeviceError(noCudaMessage(native.info().backend));
    return Tensor._wrap(callNativeDevice(() => native.toDevice!(data as TypedArray)), this.#shape, this.#dtype, 'cuda');
  }

  /** Releases the storage; later use of this tensor throws a DisposedError. Idempotent. */
  dispose(): void {
    const box = this.#storage;
    this.#storage = null;
    if (box === null) return;
    live.tensors--;
    this.#scope?.forget(this);
    this.#scope = null;
    if (--box.refs > 0) return;
    if (box.pending > 0) box.releaseWhenIdle = true;
    else box.release();
  }

  describe(): string {
    return `${this.disposed ? 'a disposed ' : ''}Tensor ${this.#dtype} [${this.#shape.join(', ')}] on ${this.#device}`;
  }

  toString(): string {
    return this.describe();
  }
}

/**
 * Keeps `tensor` past the end of the scope it was made in (scope.ts): no scope disposes it any
 * more, its owner does. Returns the tensor.
 */
export function keep<T extends Tensor>(tensor: T): T {
  if (!(tensor instanceof Tensor)) throw ArgumentError.expected('tensor', 'a Tensor', tensor);
  return tensor._keep();
}

/** Why `.to('cuda')` cannot work with the loaded addon, and how to get one that can. */
export function noCudaMessage(backend: string): string {
  return `Expected a backend with CUDA for device cuda but received the ${backend} backend, which has no CUDA: ` +
    'build the CUDA addon with `npm run build:cuda` (needs nvcc and an NVIDIA driver) and set STEPRL_BACKEND=cuda, ' +
    'or build the CPU simulator of the CUDA kernels with `npm run build:cuda-sim` and set STEPRL_BACKEND=cuda-sim';
}

/** Native errors (CUDA failures, out of device memory) arrive as typed steprl errors. */
function callNativeDevice<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw fromNative(error);
  }
}
