// sources.mjs: what the test scripts (test.mjs, test-asan.mjs) share: whether a native build is
// stale, and which suites run per device (jest.config.js declares them: project "devices").
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
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

/** The suites of jest project `project` (jest.config.js) under `root`, absolute paths, sorted. */
export function jestProjectSuites(root, project) {
  const jest = createRequire(path.join(root, 'package.json')).resolve('jest/bin/jest');
  const run = spawnSync(process.execPath, [jest, '--selectProjects', project, '--listTests'], { cwd: root, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`jest --selectProjects ${project} --listTests failed (${run.status}): ${run.stderr}`);
  return run.stdout.split('\n').map((l) => l.trim()).filter((l) => l.endsWith('.test.ts')).sort();
}
