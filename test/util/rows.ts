// rows.ts: inputs the advantage-op tests share: 0/1 masks with right padding (lengths 0..T, some
// full, some empty) or with holes, group ids of mixed sizes under shuffled int32 keys, and tensors
// of them on a device (the mask as float32 or uint8).
import { Tensor, type Device } from '../../lib';
import type { Rng } from './random';

/** Right-padded 0/1 mask [R,T]: row lengths uniform in 0..T, with empty and full rows mixed in. */
export function makeMask(rng: Rng, R: number, T: number, holes = false): Float32Array {
  const mask = new Float32Array(R * T);
  for (let i = 0; i < R; i++) {
    const kind = rng.int(0, 8);
    const L = kind === 0 ? 0 : kind === 1 ? T : rng.int(1, T + 1);
    for (let t = 0; t < L; t++) mask[i * T + t] = holes && rng.int(0, 6) === 0 ? 0 : 1;
  }
  return mask;
}

/** Group ids [R]: groups of mixed sizes (singletons included) under scattered int32 keys, rows shuffled. */
export function makeGroupIds(rng: Rng, R: number, sizes: readonly number[] = [1, 2, 4, 5, 8, 16]): Int32Array {
  const ids = new Int32Array(R);
  for (let row = 0, g = 0; row < R; g++) {
    const size = Math.min(sizes[rng.int(0, sizes.length)], R - row);
    const id = g === 0 ? -2147483648 : g === 1 ? 2147483647 : rng.int(-2e9, 2e9);
    ids.fill(id, row, row + size);
    row += size;
  }
  for (let i = R - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  return ids;
}

/** The mask as a tensor of `dtype` on `device`. */
export function maskTensor(mask: Float32Array, shape: number[], device: Device, dtype: 'float32' | 'uint8' = 'float32'): Tensor {
  return dtype === 'uint8' ? Tensor.from(Uint8Array.from(mask), shape, { dtype: 'uint8', device }) : Tensor.from(mask, shape, { device });
}

export const f32 = (data: ArrayLike<number>, shape: number[], device: Device): Tensor => Tensor.from(Float32Array.from(data), shape, { device });
export const i32 = (data: ArrayLike<number>, shape: number[], device: Device): Tensor =>
  Tensor.from(Int32Array.from(data), shape, { dtype: 'int32', device });
export const u8 = (data: ArrayLike<number>, shape: number[], device: Device): Tensor =>
  Tensor.from(Uint8Array.from(data), shape, { dtype: 'uint8', device });

/** The bytes of two typed arrays are identical. */
export const sameBits = (a: ArrayBufferView, b: ArrayBufferView): boolean =>
  Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

/** Shapes every advantage test sweeps: tiny, odd (not multiples of 32 or 256), realistic. */
export const SHAPES: ReadonlyArray<[number, number]> = [[1, 1], [3, 7], [5, 33], [16, 128], [7, 257], [41, 401], [24, 1030]];
