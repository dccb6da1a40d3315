// validate.ts: argument checks shared by every op. They explain; the addon re-checks only what
// keeps memory safe. Every native call goes through callNative so native errors arrive typed.
import { ArgumentError, DeviceError, DTypeError, ShapeError, describe, fromNative } from '../errors';
import { Tensor, checkOptionsObject, type DType, type Device } from '../tensor';

export { checkOptionsObject };

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

/** Calls into the addon, converting its errors into typed ones. */
export function callNative<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw fromNative(error);
  }
}

export async function callNativeAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw fromNative(error);
  }
}
