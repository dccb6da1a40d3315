// safetensors.ts: the safetensors checkpoint format (Hugging Face): an 8-byte little-endian header
// length N, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__} of N
// bytes (padded with spaces to 8 bytes), then the raw little-endian tensor bytes.
//
// Files are never held whole: readSafetensorsHeader reads and checks the header only, and
// readTensorInto reads one tensor with positioned reads straight into its destination: the native
// reader (pread over the thread pool; F32 lands in place, BF16/F16 are widened from 2 MiB
// per-task buffers), or on Windows Node's positioned reads and a native widening pass. Offsets are plain numbers
// (exact to 2^53), so files over 2 and 4 GiB read like any other. This file reads tensors and
// re-exports the rest: safetensors_header.ts checks headers, safetensors_write.ts writes files,
// safetensors_io.ts holds the chunked file I/O they share.
import { binding } from '../binding';
import { FormatError } from '../errors';
import { readSafetensorsHeader, type SafetensorsDType, type SafetensorsEntry, type SafetensorsHeader } from './safetensors_header';
import { readFully, STAGE_ELEMENTS, staging, withCheckpointFile } from './safetensors_io';

export { MAX_HEADER_BYTES, readSafetensorsHeader } from './safetensors_header';
export type { SafetensorsDType, SafetensorsEntry, SafetensorsFileDType, SafetensorsHeader } from './safetensors_header';
export { withCheckpointFile } from './safetensors_io';
export { encodeHeader, encodeSafetensors, storedBytes, writeSafetensorsFile } from './safetensors_write';
export type { TensorToWrite } from './safetensors_write';

/** The dtypes that read as float32 (widened exactly). */
const READABLE: readonly string[] = ['F32', 'BF16', 'F16'];

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
