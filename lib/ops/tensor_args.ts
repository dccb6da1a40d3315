// tensor_args.ts: argument checks shared by the model ops (matmul, rmsnorm, rope, attention,
// swiglu, embedding, adamw, sampling). These ops write into tensors the caller allocated (the
// model owns one activation buffer and carves views out of it), so most tensors are checked by
// element count against the sizes the defining tensors (weights, q/k/v) fix, not by shape.
import { ArgumentError, ShapeError, describe } from '../errors';
import type { Tensor, DType } from '../tensor';
import { checkOptionsObject, checkTensor, optionalTensor, shapeText } from './validate';

/** The object of named tensors an op takes: rejects non-objects and unknown names. */
export function checkTensorsObject<T>(value: T, allowed: readonly string[], expected: string): T {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw ArgumentError.expected('tensors', `an object of tensors ${expected}`, value);
  checkOptionsObject('tensors', value, allowed);
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
