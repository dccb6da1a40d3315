// safetensors_write.ts: writing safetensors files: the header (8-byte length, JSON space-padded to
// a multiple of 8 bytes, tensors laid out in the order given), then each tensor's bytes streamed
// from its Float32Array (narrowed to BF16 in native code, one staging buffer at a time) or its raw
// bf16 bits; or, for small files, the same bytes as chunks in memory.
import * as fs from 'node:fs';

import { binding } from '../binding';
import { FormatError } from '../errors';
import { STAGE_ELEMENTS, staging, writeFully } from './safetensors_io';

export interface TensorToWrite {
  name: string;
  dtype: 'F32' | 'BF16';
  shape: readonly number[];
  /** float32 values (narrowed to bf16 on the way out when dtype is BF16), or raw bf16 bits. */
  data: Float32Array | Uint16Array;
}

/** Bytes `t` takes in the file. */
export const storedBytes = (t: Pick<TensorToWrite, 'dtype' | 'shape'>): number => t.shape.reduce((a, b) => a * b, 1) * (t.dtype === 'F32' ? 4 : 2);

/** The 8-byte length and the space-padded JSON header for `tensors` stored in this order. */
export function encodeHeader(tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const bytes = storedBytes(t);
    const given = t.data instanceof Float32Array ? t.data.length * (t.dtype === 'F32' ? 4 : 2) : t.dtype === 'BF16' ? t.data.byteLength : -1;
    if (given !== bytes) throw new FormatError(t.name, `expected ${t.shape.join('x')} ${t.dtype} values but received ${t.data.length} ${t.data.constructor.name} elements`);
    if (Object.hasOwn(header, t.name)) throw new FormatError(t.name, 'expected each tensor name once but received it twice');
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const text = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + text.length);
  out.writeBigUInt64LE(BigInt(text.length));
  text.copy(out, 8);
  return out;
}

/** Streams one tensor's bytes to `fd` (at the current position). */
function writeTensor(fd: number, t: TensorToWrite): void {
  if (t.dtype === 'F32' || t.data instanceof Uint16Array) {
    writeFully(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    return;
  }
  const bits = new Uint16Array(staging(), 0, STAGE_ELEMENTS);
  for (let i = 0; i < t.data.length; i += STAGE_ELEMENTS) {
    const n = Math.min(STAGE_ELEMENTS, t.data.length - i);
    binding().narrowToBFloat16(bits.subarray(0, n), t.data.subarray(i, i + n), n);
    writeFully(fd, new Uint8Array(bits.buffer, 0, 2 * n));
  }
}

/** Writes a safetensors file (not atomically: callers write into a folder swapped in whole). */
export function writeSafetensorsFile(file: string, tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): void {
  const header = encodeHeader(tensors, metadata);
  const fd = fs.openSync(file, 'w');
  try {
    writeFully(fd, header);
    for (const t of tensors) writeTensor(fd, t);
  } finally {
    fs.closeSync(fd);
  }
}

/** The file's bytes as chunks (header, then each tensor), in the order given: for small files. */
export function encodeSafetensors(tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): Uint8Array[] {
  const chunks: Uint8Array[] = [encodeHeader(tensors, metadata)];
  for (const t of tensors) {
    if (t.dtype === 'F32' || t.data instanceof Uint16Array) {
      chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    } else {
      const bits = new Uint16Array(t.data.length);
      binding().narrowToBFloat16(bits, t.data, t.data.length);
      chunks.push(new Uint8Array(bits.buffer));
    }
  }
  return chunks;
}
