// safetensors_header.ts: reading and checking a safetensors header: an 8-byte little-endian length
// N, then N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__}.
// Every field of a foreign header is checked as the reference implementation does before a byte of
// data is read: header length and UTF-8 JSON object, duplicate names, dtypes, shapes (byte sizes in
// BigInt, so no overflow), data_offsets that must tile the data section exactly (no overlap, no
// hole, nothing past the end: a truncated file is caught here).
import * as fs from 'node:fs';

import { FormatError } from '../errors';
import { readFully, withCheckpointFile } from './safetensors_io';

/** Every dtype the format defines, with its element size; F32, BF16 and F16 can be read as float32. */
const DTYPE_BYTES = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
} as const;
export type SafetensorsFileDType = keyof typeof DTYPE_BYTES;
export type SafetensorsDType = 'F32' | 'BF16' | 'F16';

/** The header of the reference implementation is limited to 100 MB. */
export const MAX_HEADER_BYTES = 100_000_000;

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
