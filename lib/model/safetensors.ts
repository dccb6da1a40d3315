// safetensors.ts: the safetensors checkpoint format (Hugging Face): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__}, padded
// with spaces to 8 bytes, then the raw little-endian tensor bytes. Reads F32, BF16 and F16 (as
// float32 or raw bf16 bits); writes F32 or BF16. Every field of a foreign file is checked before use.
import * as fs from 'node:fs';

import { FormatError } from '../errors';
import { fromBFloat16 } from '../tensor';

export type SafetensorsDType = 'F32' | 'BF16' | 'F16';
const BYTES: Record<SafetensorsDType, number> = { F32: 4, BF16: 2, F16: 2 };

export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: number[];
  /** The raw bytes (a copy, so aligned and independent of the file buffer). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsTensor>;
}

const MAX_HEADER = 100 * 2 ** 20;

export function readSafetensors(file: string): SafetensorsFile {
  let buffer: Buffer;
  try {
    buffer = fs.readFileSync(file);
  } catch (error) {
    throw new FormatError(file, `cannot read the checkpoint (${(error as Error).message})`);
  }
  if (buffer.length < 8) throw new FormatError(file, `expected a safetensors file of at least 8 bytes but received ${buffer.length}`);
  const headerLength = Number(buffer.readBigUInt64LE(0));
  if (headerLength > MAX_HEADER || 8 + headerLength > buffer.length)
    throw new FormatError(file, `expected a header length below ${Math.min(MAX_HEADER, buffer.length - 8)} but received ${headerLength}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buffer.subarray(8, 8 + headerLength).toString('utf8'));
  } catch (error) {
    throw new FormatError(file, `the header is not JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw new FormatError(file, 'expected the header to be a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = buffer.length - dataStart;
  const tensors = new Map<string, SafetensorsTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof entry !== 'object' || entry === null) throw new FormatError(file, `tensor ${name}: expected an object`);
    const dtype = entry.dtype as SafetensorsDType;
    if (!(dtype in BYTES)) throw new FormatError(file, `tensor ${name}: expected dtype F32, BF16 or F16 but received ${JSON.stringify(entry.dtype)}`);
    const shape = entry.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0))
      throw new FormatError(file, `tensor ${name}: expected a shape of non-negative integers but received ${JSON.stringify(shape)}`);
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0))
      throw new FormatError(file, `tensor ${name}: expected data_offsets [begin, end] but received ${JSON.stringify(offsets)}`);
    const [begin, end] = offsets as [number, number];
    const expected = (shape as number[]).reduce((a, b) => a * b, 1) * BYTES[dtype];
    if (end < begin || end > dataLength || end - begin !== expected)
      throw new FormatError(file, `tensor ${name}: expected ${expected} bytes inside the ${dataLength}-byte data section but received offsets [${begin}, ${end}]`);
    tensors.set(name, { dtype, shape: [...(shape as number[])], bytes: new Uint8Array(buffer.subarray(dataStart + begin, dataStart + end)) });
  }
  return { metadata, tensors };
}

/** float16 bits -> float32. */
function fromFloat16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i], sign = h & 0x8000 ? -1 : 1, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    if (exponent === 0) out[i] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) out[i] = mantissa ? NaN : sign * Infinity;
    else out[i] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return out;
}

/** A tensor's values as float32 (bf16 and f16 widened exactly). */
export function toFloat32(tensor: SafetensorsTensor): Float32Array {
  const { bytes } = tensor;
  switch (tensor.dtype) {
    case 'F32': return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
    case 'BF16': return fromBFloat16(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2));
    case 'F16': return fromFloat16(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2));
  }
}

export interface TensorToWrite {
  name: string;
  dtype: 'F32' | 'BF16';
  shape: readonly number[];
  data: Float32Array | Uint16Array;
}

/** The file's bytes as chunks (header, then each tensor), in the order given. */
export function encodeSafetensors(tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.data.byteLength;
    if (bytes !== t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype])
      throw new FormatError(t.name, `expected ${t.shape.join('x')} ${t.dtype} values but received ${bytes} bytes`);
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const text = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(text.length));
  return [prefix, text, ...tensors.map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
}
