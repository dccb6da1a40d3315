// safetensors_io.ts: the file I/O under the safetensors reader and writer: whole-range positioned
// reads and writes in calls below Node's 2 GiB cap (a short read is a truncated file, reported as a
// FormatError), opening a checkpoint with a FormatError naming it, and the one reused staging
// buffer (STAGE_ELEMENTS float32, 16 MiB) through which bf16/f16 are widened or narrowed.
import * as fs from 'node:fs';

import { FormatError } from '../errors';

/** Largest single read or write call (Node caps one call below 2 GiB). */
const IO_CHUNK = 2 ** 30;
/** Elements converted per staging round when widening or narrowing (8 MiB of bf16). */
export const STAGE_ELEMENTS = 2 ** 22;

/** Reads exactly `bytes.length` bytes at `position`; a short read means the file is truncated. */
export function readFully(fd: number, file: string, bytes: Uint8Array, position: number, what: string): void {
  let done = 0;
  while (done < bytes.length) {
    const n = fs.readSync(fd, bytes, done, Math.min(IO_CHUNK, bytes.length - done), position + done);
    if (n === 0) throw new FormatError(file, `${what}: expected ${bytes.length} bytes at offset ${position} but the file ends after ${position + done} (truncated?)`);
    done += n;
  }
}

/** Writes all of `bytes` at the current position, in calls Node accepts. */
export function writeFully(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, Math.min(IO_CHUNK, bytes.length - done));
}

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

let stage: ArrayBuffer | null = null;
/** A staging buffer of STAGE_ELEMENTS float32 (reused; at most 16 MiB). */
export function staging(): ArrayBuffer {
  stage ??= new ArrayBuffer(STAGE_ELEMENTS * 4);
  return stage;
}
