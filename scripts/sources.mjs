// sources.mjs: what the test scripts (test.mjs, test-asan.mjs) share to decide whether a native
// build is stale.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The most recently modified native source (.cc .cu .cuh .h .inl .cmake .gyp .txt) under `dirs` and among `files`. */
export function newestSource(dirs, files) {
  let newest = { mtime: 0, file: '' };
  const visit = (p) => {
    const stat = fs.statSync(p);
    if (stat.isDirectory()) for (const entry of fs.readdirSync(p)) visit(path.join(p, entry));
    else if (/\.(cc|cu|cuh|h|inl|cmake|gyp|txt)$/.test(p) && stat.mtimeMs > newest.mtime) newest = { mtime: stat.mtimeMs, file: p };
  };
  for (const d of dirs) if (fs.existsSync(d)) visit(d);
  for (const f of files) if (fs.existsSync(f)) visit(f);
  return newest;
}
