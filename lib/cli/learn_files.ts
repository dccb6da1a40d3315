// learn_files.ts: the small file helpers `steprl learn` shares: a task's folder under --out, reading
// a JSON file that may be missing or torn, and the key comparison (equal as JSON) its caches use.
import * as fs from 'node:fs';
import * as path from 'node:path';

export function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

export const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export const taskFolder = (out: string, taskName: string) => path.join(out, taskName.replace(/[^A-Za-z0-9_.-]/g, '_'));
