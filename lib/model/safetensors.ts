// safetensors.ts: the safetensors checkpoint format (Hugging Face): an 8-byte little-endian header
// length N, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__} of N
// bytes (padded with spaces to 8 bytes), then the raw little-endian tensor bytes.
//
// Files are never held whole: readSafetensorsHeader reads and checks the header only, and
// readTensorInto reads one tensor with positioned reads straight into its destination: the native
// reader (pread over the thread pool; F32 lands in place, BF16/F16 are widened from 2 MiB
// per-task buffers), or on Windows Node's positioned reads and a native widening pass. Offsets are plain numbers
// (exact to 2^53), so files over 2 and 4 GiB read like any other. Every field of a foreign header
// is checked as the reference implementation does before a byte of data is read: header length
// and UTF-8 JSON object, duplicate names, dtypes, shapes (byte sizes in BigInt, so no overflow),
// data_offsets that must tile the data section exactly (no overlap, no hole, nothing past the
// end: a truncated file is caught here). Writing streams each tensor from its Float32Array
// (narrowed to BF16 in native code, chunk by chunk).
import * as fs from 'node:fs';

import { binding } from '../binding';
import { FormatError } from '../errors';

/** Every dtype the format defines, with its element size; F32, BF16 and F16 can be read as float32. */
const DTYPE_BYTES = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
} as const;
export type SafetensorsFileDType = keyof typeof DTYPE_BYTES;
export type SafetensorsDType = 'F32' | 'BF16' | 'F16';
const READABLE: readonly string[] = ['F32', 'BF16', 'F16'];

/** The header of the reference implementation is limited to 100 MB. */
export const MAX_HEADER_BYTES = 100_000_000;
/** Largest single read or write call (Node caps one call below 2 GiB). */
const IO_CHUNK = 2 ** 30;
/** Elements converted per staging round when widening or narrowing (8 MiB of bf16). */
const STAGE_ELEMENTS = 2 ** 22;

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsFileDType;
  shape: number[];
  numel: number;
  /** Byte offsets within the data section, as in the header. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  fileBytes: number;
  /** Absolute file offset of the data section (8 + header length). */
  dataStart: number;
  metadata: Record<string, string>;
  /** In data order. */
  entries: Map<string, SafetensorsEntry>;
}

/** Reads exactly `bytes.length` bytes at `position`; a short read means the file is truncated. */
function readFully(fd: number, file: string, bytes: Uint8Array, position: number, what: string): void {
  let done = 0;
  while (done < bytes.length) {
    const n = fs.readSync(fd, bytes, done, Math.min(IO_CHUNK, bytes.length - done), position + done);
    if (n === 0) throw new FormatError(file, `${what}: expected ${bytes.length} bytes at offset ${position} but the file ends after ${position + done} (truncated?)`);
    done += n;
  }
}

function writeFully(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, Math.min(IO_CHUNK, bytes.length - done));
}

/**
 * The top-level keys of a JSON object text, in order, duplicates included (JSON.parse keeps only
 * the last of duplicates). `text` must already be known to parse as a JSON object.
 */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        keys.push(JSON.parse(text.slice(i, j + 1)) as string);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return keys;
}

const describeJson = (value: unknown): string => {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

/** Opens a checkpoint file for reading (a FormatError naming it if it cannot be), runs `use`, closes it. */
export function withCheckpointFile<T>(file: string, use: (fd: number) => T): T {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (error) {
    throw new FormatError(file, `cannot open the checkpoint (${(error as Error).message})`);
  }
  try {
    return use(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads and checks a safetensors file's header (an open `fd` may be given; it is not closed). */
export function readSafetensorsHeader(file: string, fd?: number): SafetensorsHeader {
  if (fd === undefined) return withCheckpointFile(file, (own) => readSafetensorsHeader(file, own));
  const fileBytes = fs.fstatSync(fd).size;
  if (fileBytes < 8) throw new FormatError(file, `expected a safetensors file of at least 8 bytes but received ${fileBytes}`);
  const prefix = Buffer.alloc(8);
  readFully(fd, file, prefix, 0, 'header length');
  const headerLength = prefix.readBigUInt64LE(0);
  const limit = Math.min(MAX_HEADER_BYTES, fileBytes - 8);
  if (headerLength < 2n || headerLength > BigInt(limit))
    throw new FormatError(file, `expected a header length in [2, ${limit}] (at most 100 MB, inside the ${fileBytes}-byte file) but received ${headerLength}`);
  const headerBytes = Buffer.alloc(Number(headerLength));
  readFully(fd, file, headerBytes, 8, 'header');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new FormatError(file, 'expected the header to be UTF-8 text but it is not');
  }
  if (text[0] !== '{') throw new FormatError(file, `expected the header to start with '{' but it starts with ${JSON.stringify(text.slice(0, 16))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw new FormatError(file, `expected the header to be JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw new FormatError(file, 'expected the header to be a JSON object');
  const keys = topLevelKeys(text);
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key)) throw new FormatError(file, `tensor ${JSON.stringify(key)} appears twice in the header`);
    seen.add(key);
  }

  const dataStart = 8 + Number(headerLength);
  const dataBytes = fileBytes - dataStart;
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null) continue;
      if (typeof raw !== 'object' || Array.isArray(raw) || Object.values(raw as object).some((v) => typeof v !== 'string'))
        throw new FormatError(file, `expected __metadata__ to map names to strings but received ${describeJson(raw)}`);
      metadata = { ...(raw as Record<string, string>) };
      continue;
    }
    const where = `tensor ${name}`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      throw new FormatError(file, `${where}: expected {dtype, shape, data_offsets} but received ${describeJson(raw)}`);
    const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof entry.dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, entry.dtype))
      throw new FormatError(file, `${where}: expected a dtype among ${Object.keys(DTYPE_BYTES).join(', ')} but received ${describeJson(entry.dtype)}`);
    const dtype = entry.dtype as SafetensorsFileDType;
    const shape = entry.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0))
      throw new FormatError(file, `${where}: expected a shape of non-negative integers but received ${describeJson(shape)}`);
    const bytes = (shape as number[]).reduce((n, d) => n * BigInt(d), 1n) * BigInt(DTYPE_BYTES[dtype]);
    if (bytes > BigInt(dataBytes))
      throw new FormatError(file, `${where}: shape [${shape.join(', ')}] ${dtype} needs ${bytes} bytes but the file holds only ${dataBytes} bytes of data (truncated?)`);
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0))
      throw new FormatError(file, `${where}: expected data_offsets [begin, end] of non-negative integers but received ${describeJson(offsets)}`);
    const [begin, end] = offsets as [number, number];
    if (end < begin || end - begin !== Number(bytes))
      throw new FormatError(file, `${where}: expected data_offsets spanning ${bytes} bytes (shape [${shape.join(', ')}] ${dtype}) but received [${begin}, ${end}]`);
    if (end > dataBytes)
      throw new FormatError(file, `${where}: data_offsets [${begin}, ${end}] reach past the ${dataBytes} bytes of data the file holds (truncated?)`);
    entries.push({ name, dtype, shape: [...(shape as number[])], numel: Number(bytes) / DTYPE_BYTES[dtype], begin, end });
  }
  // The tensors must tile the data section: sorted by offset, each starts where the last ended.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e.begin < cursor)
      throw new FormatError(file, `tensor ${e.name}: data_offsets [${e.begin}, ${e.end}] overlap tensor ${entries[i - 1].name} (which ends at ${cursor})`);
    if (e.begin > cursor)
      throw new FormatError(file, `tensor ${e.name}: expected data_offsets to begin at ${cursor} (right after the previous tensor) but received ${e.begin}, leaving a hole`);
    cursor = e.end;
  }
  if (cursor !== dataBytes)
    throw new FormatError(file, `expected the tensors to end at the end of the file (${dataBytes} bytes of data) but they end at ${cursor}, leaving ${dataBytes - cursor} bytes unaccounted for`);
  return { file, fileBytes, dataStart, metadata, entries: new Map(entries.map((e) => [e.name, e])) };
}

let stage: ArrayBuffer | null = null;
/** A staging buffer of STAGE_ELEMENTS float32 (reused; at most 16 MiB). */
function staging(): ArrayBuffer {
  stage ??= new ArrayBuffer(STAGE_ELEMENTS * 4);
  return stage;
}

/**
 * Reads one tensor (F32, BF16 or F16) as float32 into `out` (exactly its element count), from the
 * file open as `fd` whose header is `header`.
 */
export function readTensorInto(fd: number, header: SafetensorsHeader, entry: SafetensorsEntry, out: Float32Array): void {
  const { file } = header;
  if (!READABLE.includes(entry.dtype))
    throw new FormatError(file, `tensor ${entry.name}: expected dtype F32, BF16 or F16 but received ${entry.dtype}`);
  if (out.length !== entry.numel) throw new Error(`steprl: ${out.length}-element destination for ${entry.numel}-element tensor ${entry.name}`);
  const position = header.dataStart + entry.begin;
  const what = `tensor ${entry.name}`;
  const format = entry.dtype === 'F32' ? 'float32' : entry.dtype === 'BF16' ? 'bfloat16' : 'float16';
  const native = binding().readAsFloat32;
  if (native !== undefined) {
    let read: number;
    try {
      read = native(fd, position, out, entry.numel, format);
    } catch (error) {
      throw new FormatError(file, `${what}: ${(error as Error).message}`);
    }
    const size = format === 'float32' ? 4 : 2;
    if (read < entry.numel)
      throw new FormatError(file, `${what}: expected ${entry.numel * size} bytes at offset ${position} but the file ends after ${position + read * size} (truncated?)`);
    return;
  }
  // Without the native reader (Windows builds): Node's positioned reads, widened chunk by chunk.
  if (format === 'float32') {
    readFully(fd, file, new Uint8Array(out.buffer, out.byteOffset, out.byteLength), position, what);
    return;
  }
  const bits = new Uint16Array(staging(), 0, STAGE_ELEMENTS);
  for (let i = 0; i < entry.numel; i += STAGE_ELEMENTS) {
    const n = Math.min(STAGE_ELEMENTS, entry.numel - i);
    readFully(fd, file, new Uint8Array(bits.buffer, 0, 2 * n), position + 2 * i, what);
    binding().widenToFloat32(out.subarray(i, i + n), bits.subarray(0, n), n, format);
  }
}

export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: number[];
  /** The raw bytes (a copy, aligned). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsTensor>;
}

/** Reads a whole (small) file's tensors as raw bytes: for side files such as optimizer moments. */
export function readSafetensors(file: string): SafetensorsFile {
  return withCheckpointFile(file, (fd) => {
    const header = readSafetensorsHeader(file, fd);
    const tensors = new Map<string, SafetensorsTensor>();
    for (const entry of header.entries.values()) {
      if (!READABLE.includes(entry.dtype))
        throw new FormatError(file, `tensor ${entry.name}: expected dtype F32, BF16 or F16 but received ${entry.dtype}`);
      const bytes = new Uint8Array(entry.end - entry.begin);
      readFully(fd, file, bytes, header.dataStart + entry.begin, `tensor ${entry.name}`);
      tensors.set(entry.name, { dtype: entry.dtype as SafetensorsDType, shape: entry.shape, bytes });
    }
    return { metadata: header.metadata, tensors };
  });
}

/** A tensor's values as float32 (bf16 and f16 widened exactly). */
export function toFloat32(tensor: SafetensorsTensor): Float32Array {
  const { bytes } = tensor;
  if (tensor.dtype === 'F32') return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
  const n = bytes.byteLength / 2;
  const out = new Float32Array(n);
  binding().widenToFloat32(out, new Uint16Array(bytes.buffer, bytes.byteOffset, n), n, tensor.dtype === 'BF16' ? 'bfloat16' : 'float16');
  return out;
}

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
