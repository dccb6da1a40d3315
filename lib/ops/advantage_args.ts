// advantage_args.ts: argument checks shared by the advantage and reward ops (prlAdvantages,
// prpoAdvantages, entropySegments, processGrpoAdvantages, gae, prmScore). Value checks (mask
// entries, finiteness, offsets, step ends) read cpu storage only; on cuda the kernels make the same
// checks on the device and report them in the same words.
import { ArgumentError, ShapeError, describe } from '../errors';
import { Tensor, typedArrayKind } from '../tensor';
import { checkMaskValues } from './policy_loss';
import { checkOptionsObject, checkRank, checkShapeEquals, checkTensor, shapeText } from './validate';

export { checkMaskValues };

/** The object of named input tensors: rejects non-objects and unknown names. */
export function checkInputs<T>(inputs: T, allowed: readonly string[]): T {
  if (inputs === null || typeof inputs !== 'object' || Array.isArray(inputs))
    throw ArgumentError.expected('inputs', `an object of tensors { ${allowed.join(', ')} }`, inputs);
  checkOptionsObject('inputs', inputs, allowed);
  return inputs;
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
