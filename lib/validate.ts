// validate.ts: every argument check of the TypeScript layer, in one place. TS validates and
// explains (typed errors naming the argument, what was expected and what was received); the addon
// re-checks only what keeps memory safe. Sections: plain values (shapes, devices, numbers, enums,
// option objects), tensors (dtype, shape, device, element counts), and values read from cpu storage
// (masks, finiteness, ragged offsets) — on cuda the kernels make those checks on the device and
// report them in the same words.
//
// tensor.ts imports the plain-value checks from here, and this module uses Tensor only inside
// functions (instanceof), so the two modules load in either order.
import { ArgumentError, DeviceError, DTypeError, ShapeError, describe } from './errors';
import { Tensor } from './tensor';
import { typedArrayKind, type DType, type Device } from './dtype';

// ---- Plain values ----

export function checkShape(shape: unknown, argument = 'shape'): number[] {
  if (!Array.isArray(shape)) throw ArgumentError.expected(argument, 'an array of non-negative integers', shape);
  for (const d of shape)
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
      throw new ShapeError(argument, `Expected non-negative integers in ${argument} but received [${shape.map(String).join(', ')}]`);
  return [...shape];
}

export function checkDevice(argument: string, device: unknown): asserts device is Device {
  if (device !== 'cpu' && device !== 'cuda') throw ArgumentError.expected(argument, "'cpu' or 'cuda'", device);
}

export function checkNumbers(argument: string, data: ArrayLike<number>, integers = false): ArrayLike<number> {
  if (typedArrayKind(data) !== null && !integers) return data;
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (typeof x !== 'number' || (integers && !Number.isInteger(x)))
      throw ArgumentError.expected(`${argument}[${i}]`, integers ? 'an integer' : 'a number', x);
  }
  return data;
}

/** Rejects a non-object options argument and unknown keys (typos must not pass silently). */
export function checkOptionsObject(argument: string, options: unknown, allowed: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw ArgumentError.expected(argument, 'an options object', options);
  for (const key of Object.keys(options))
    if (!allowed.includes(key))
      throw new ArgumentError(`${argument}.${key}`, `Expected one of ${allowed.join(', ')} in ${argument} but received unknown option ${JSON.stringify(key)}`);
}

export interface NumberRule {
  min?: number;
  max?: number;
  /** strictly greater than */
  above?: number;
  integer?: boolean;
}

export function checkNumber(argument: string, value: unknown, fallback: number, rule: NumberRule = {}): number {
  if (value === undefined) return fallback;
  const what = () => {
    const parts = [rule.integer ? 'an integer' : 'a finite number'];
    if (rule.above !== undefined) parts.push(`> ${rule.above}`);
    if (rule.min !== undefined && rule.max !== undefined) parts.push(`between ${rule.min} and ${rule.max}`);
    else if (rule.min !== undefined) parts.push(`>= ${rule.min}`);
    else if (rule.max !== undefined) parts.push(`<= ${rule.max}`);
    return parts.join(' ');
  };
  if (typeof value !== 'number' || !Number.isFinite(value)) throw ArgumentError.expected(argument, what(), value);
  if ((rule.integer && !Number.isInteger(value)) || (rule.min !== undefined && value < rule.min) ||
      (rule.max !== undefined && value > rule.max) || (rule.above !== undefined && !(value > rule.above)))
    throw ArgumentError.expected(argument, what(), value);
  return value;
}

export function checkEnum<T extends string>(argument: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !allowed.includes(value as T))
    throw ArgumentError.expected(argument, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  return value as T;
}

export function checkBoolean(argument: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw ArgumentError.expected(argument, 'a boolean', value);
  return value;
}

// ---- Tensors ----

/** A live Tensor of one of `dtypes`. */
export function checkTensor(argument: string, value: unknown, dtypes: readonly DType[]): Tensor {
  if (!(value instanceof Tensor)) throw ArgumentError.expected(argument, 'a Tensor', value);
  value._storage(argument);
  if (!dtypes.includes(value.dtype))
    throw new DTypeError(argument, `Expected dtype ${dtypes.join(' or ')} for ${argument} but received ${describe(value)}`);
  return value;
}

export function optionalTensor(argument: string, value: unknown, dtypes: readonly DType[]): Tensor | undefined {
  return value === undefined || value === null ? undefined : checkTensor(argument, value, dtypes);
}

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function checkShapeEquals(argument: string, tensor: Tensor, expected: readonly number[]): void {
  const s = tensor.shape;
  if (s.length !== expected.length || s.some((d, i) => d !== expected[i]))
    throw new ShapeError(argument, `Expected shape ${shapeText(expected)} for ${argument} but received ${shapeText(s)}`);
}

export function checkRank(argument: string, tensor: Tensor, rank: number): void {
  if (tensor.shape.length !== rank)
    throw new ShapeError(argument, `Expected a ${rank}-d tensor for ${argument} but received shape ${shapeText(tensor.shape)}`);
}

/** All tensors share one device; returns it. */
export function commonDevice(tensors: Record<string, Tensor | undefined>): Device {
  let device: Device | undefined;
  let first = '';
  for (const [name, t] of Object.entries(tensors)) {
    if (t === undefined) continue;
    if (device === undefined) {
      device = t.device;
      first = name;
    } else if (t.device !== device) {
      throw new DeviceError(`Expected ${name} on ${device} like ${first} but received a tensor on ${t.device}`);
    }
  }
  return device ?? 'cpu';
}

/**
 * The object of named tensors an op takes (`tensors` or `inputs`): rejects non-objects and unknown
 * names. `expected` spells the names for the message, optional ones marked; default all of `allowed`.
 */
export function checkTensorsObject<T>(argument: string, value: T, allowed: readonly string[], expected = `{ ${allowed.join(', ')} }`): T {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw ArgumentError.expected(argument, `an object of tensors ${expected}`, value);
  checkOptionsObject(argument, value, allowed);
  return value;
}

/** A float32 (or `dtype`) tensor holding exactly `numel` elements, e.g. a view of any shape. */
export function checkElements(argument: string, value: unknown, numel: number, shape: readonly (number | string)[],
  dtype: DType = 'float32'): Tensor {
  const tensor = checkTensor(argument, value, [dtype]);
  if (tensor.numel !== numel)
    throw new ShapeError(argument, `Expected ${numel} elements (${shapeText(shape as number[])}) for ${argument} but received ${describe(tensor)}`);
  return tensor;
}

export function optionalElements(argument: string, value: unknown, numel: number, shape: readonly (number | string)[],
  dtype: DType = 'float32'): Tensor | undefined {
  return optionalTensor(argument, value, [dtype]) === undefined ? undefined : checkElements(argument, value, numel, shape, dtype);
}

/** A tensor whose shape has exactly `rank` dimensions; returns the dimensions. */
export function checkDims(argument: string, tensor: Tensor, rank: number, names: string): number[] {
  if (tensor.shape.length !== rank)
    throw new ShapeError(argument, `Expected a ${rank}-d tensor ${names} for ${argument} but received ${describe(tensor)}`);
  return [...tensor.shape];
}

/** The number of rows of a tensor read as [rows, width]: its element count must divide. */
export function rowsOf(argument: string, tensor: Tensor, width: number, what: string): number {
  if (width === 0 ? tensor.numel !== 0 : tensor.numel % width !== 0)
    throw new ShapeError(argument, `Expected ${argument} of shape [N, ${what}] (a multiple of ${width} elements) but received ${describe(tensor)}`);
  // Rows of width 0 hold no elements: the leading dimensions say how many there are.
  return width === 0 ? tensor.shape.slice(0, -1).reduce((a, b) => a * b, tensor.shape.length > 0 ? 1 : 0) : tensor.numel / width;
}

/** A float32 [R,T] tensor; returns [R, T]. */
export function checkRowsTokens(argument: string, value: unknown): [number, number] {
  const tensor = checkTensor(argument, value, ['float32']);
  checkRank(argument, tensor, 2);
  return [tensor.shape[0], tensor.shape[1]];
}

/** A float32 or uint8 0/1 mask of `shape` (values checked on the cpu). */
export function checkMask(value: unknown, shape: readonly number[]): Tensor {
  const mask = checkTensor('mask', value, ['float32', 'uint8']);
  checkShapeEquals('mask', mask, shape);
  return mask;
}

/** A 1-d tensor of `dtype` with `length` elements. */
export function checkVector(argument: string, value: unknown, dtype: 'float32' | 'int32', length: number, what: string): Tensor {
  const tensor = checkTensor(argument, value, [dtype]);
  if (tensor.shape.length !== 1 || tensor.shape[0] !== length)
    throw new ShapeError(argument, `Expected shape [${length}] (${what}) for ${argument} but received ${shapeText(tensor.shape)}`);
  return tensor;
}

// ---- Values in cpu storage (on cuda the kernels check them) ----

/** Word-wise scan: a float32 mask may hold only the bits of 0, -0 and 1, a uint8 mask only bytes 0 and 1. */
function maskLooksBinary(values: Float32Array | Uint8Array): boolean {
  if (typedArrayKind(values) === 'Float32Array') {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < bits.length; i++) if ((bits[i] & 0x7fffffff) !== 0 && bits[i] !== 0x3f800000) return false;
    return true;
  }
  let i = 0;
  if (values.byteOffset % 4 === 0) {
    const words = new Uint32Array(values.buffer, values.byteOffset, values.length >>> 2);
    for (let w = 0; w < words.length; w++) if ((words[w] & 0xfefefefe) !== 0) return false;
    i = words.length * 4;
  }
  for (; i < values.length; i++) if (values[i] > 1) return false;
  return true;
}

/** A cpu mask holds only 0 and 1 (the message names the first other value); shared with the advantage ops. */
export function checkMaskValues(mask: Tensor): void {
  const values = mask._storage('mask') as Float32Array | Uint8Array;
  if (maskLooksBinary(values)) return;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== 0 && v !== 1)
      throw new ArgumentError('mask', `Expected 0 or 1 for every element of mask but received ${describe(v)} at index ${i}`);
  }
}

const isHost = (tensor: Tensor, argument: string): boolean => typedArrayKind(tensor._storage(argument)) !== null;

/** Every element finite (only where the mask is 1, when a mask is given); cpu storage only. */
export function checkFinite(argument: string, tensor: Tensor, mask?: Tensor): void {
  if (!isHost(tensor, argument)) return;
  const data = tensor._storage(argument) as Float32Array;
  const m = mask === undefined ? undefined : (mask._storage('mask') as Float32Array | Uint8Array);
  for (let i = 0; i < data.length; i++)
    if (!Number.isFinite(data[i]) && (m === undefined || m[i] !== 0))
      throw new ArgumentError(argument, `Expected a finite number for every ${m ? 'valid (mask = 1) ' : ''}element of ${argument} but received ${describe(data[i])} at index ${i}`);
}

/** The mask's values, on the cpu. */
export function checkMaskOnHost(mask: Tensor): void {
  if (isHost(mask, 'mask')) checkMaskValues(mask);
}

/** Ragged offsets into `S` items: 0 first, non-decreasing, S last (the native layer's words). */
export function checkOffsets(offsets: Tensor, S: number, items: string): void {
  if (!isHost(offsets, 'stepOffsets')) return;
  const o = offsets._storage('stepOffsets') as Int32Array;
  if (o[0] !== 0) throw new ArgumentError('stepOffsets', `Expected 0 for stepOffsets[0] but received ${describe(o[0])}`);
  for (let i = 1; i < o.length; i++)
    if (o[i] < o[i - 1])
      throw new ArgumentError('stepOffsets', `Expected non-decreasing values for stepOffsets but received ${o[i]} after ${o[i - 1]} at index ${i}`);
  const last = o.length - 1;
  if (o[last] !== S)
    throw new ArgumentError('stepOffsets', `Expected ${S} (the number of ${items}) for stepOffsets[${last}] but received ${describe(o[last])}`);
}

/** L_i per row: one past the row's last token with mask 1 (cpu storage). */
export function rowLengths(mask: Tensor, R: number, T: number): Int32Array {
  const m = mask._storage('mask') as Float32Array | Uint8Array;
  const lengths = new Int32Array(R);
  for (let i = 0; i < R; i++) {
    let t = T;
    while (t > 0 && m[i * T + t - 1] === 0) t--;
    lengths[i] = t;
  }
  return lengths;
}

/** stepOffsets as given to ragged-step ops: an int32 [R+1] tensor; returns R. */
export function checkStepOffsets(value: unknown): { offsets: Tensor; R: number } {
  const offsets = checkTensor('stepOffsets', value, ['int32']);
  checkRank('stepOffsets', offsets, 1);
  if (offsets.numel < 1) throw new ShapeError('stepOffsets', 'Expected at least 1 element (R + 1) for stepOffsets but received shape [0]');
  return { offsets, R: offsets.numel - 1 };
}
