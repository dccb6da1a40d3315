// atomic.ts: files and folders written so that a crash never leaves a torn result: write to a
// temporary sibling, fsync it, rename over the target (atomic on POSIX filesystems), fsync the dir.
import * as fs from 'node:fs';
import * as path from 'node:path';

function fsyncDirectory(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some platforms (Windows) cannot open directories; the rename is still atomic there.
  }
}

/** Writes `chunks` to `file` atomically. */
export function writeFileAtomic(file: string, chunks: ArrayBufferView | readonly ArrayBufferView[] | string): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const temporary = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(temporary, 'w');
  try {
    if (typeof chunks === 'string') fs.writeSync(fd, chunks);
    else for (const chunk of Array.isArray(chunks) ? chunks : [chunks as ArrayBufferView]) {
      let offset = 0;
      const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      while (offset < bytes.length) offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
    }
    fs.fsyncSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    fs.rmSync(temporary, { force: true });
    throw error;
  }
  fs.closeSync(fd);
  fs.renameSync(temporary, file);
  fsyncDirectory(dir);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temporary siblings that crashed writers (dead pids) left behind. */
function removeStaleTemporaries(parent: string, base: string): void {
  const pattern = new RegExp(`^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)\\.\\d+\\.tmp$`);
  for (const name of fs.readdirSync(parent)) {
    const match = pattern.exec(name);
    if (match && Number(match[1]) !== process.pid && !processAlive(Number(match[1])))
      fs.rmSync(path.join(parent, name), { recursive: true, force: true });
  }
}

/**
 * Writes a whole folder atomically: `fill(tmpDir)` writes the files, then the folder replaces
 * `dir` by rename. An existing `dir` is moved aside first and removed only after the new one is
 * in place, so at every instant either the old or the new folder is complete at `dir` (or at its
 * `.old` sibling, which a later write cleans up).
 */
export function writeDirectoryAtomic(dir: string, fill: (tmpDir: string) => void): void {
  const parent = path.dirname(path.resolve(dir));
  fs.mkdirSync(parent, { recursive: true });
  const base = path.basename(dir);
  const temporary = path.join(parent, `.${base}.${process.pid}.${Date.now()}.tmp`);
  const old = path.join(parent, `.${base}.old`);
  removeStaleTemporaries(parent, base);
  fs.rmSync(temporary, { recursive: true, force: true });
  fs.mkdirSync(temporary);
  try {
    fill(temporary);
    for (const name of fs.readdirSync(temporary)) {
      const fd = fs.openSync(path.join(temporary, name), 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
    fsyncDirectory(temporary);
  } catch (error) {
    fs.rmSync(temporary, { recursive: true, force: true });
    throw error;
  }
  fs.rmSync(old, { recursive: true, force: true });
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  fs.renameSync(temporary, dir);
  fsyncDirectory(parent);
  fs.rmSync(old, { recursive: true, force: true });
}

/** The folder to read: `dir`, or its `.old` sibling when a crash interrupted a folder swap. */
export function resolveDirectory(dir: string): string {
  if (fs.existsSync(dir)) return dir;
  const old = path.join(path.dirname(path.resolve(dir)), `.${path.basename(dir)}.old`);
  return fs.existsSync(old) ? old : dir;
}
