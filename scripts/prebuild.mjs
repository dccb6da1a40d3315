#!/usr/bin/env node
// prebuild.mjs: `npm run prebuilds` — the CPU addon for this platform with prebuildify (Node-API,
// stripped), into prebuilds/<platform>-<arch>/: steprl.glibc.node (or .musl) on Linux, steprl.node
// on macOS and Windows. node-gyp-build loads it when the package has no build/ folder, so users
// need no compiler. The same script serves linux-x64, linux-arm64, darwin-arm64 and win32-x64:
// run it on each (prebuildify does not cross-compile).
//
// prebuildify runs `node-gyp rebuild` in its working folder, which would delete build/Release
// while other work (jest, a running trainer) may be loading it; so it builds in a staging copy,
// build-prebuild/, with binding.gyp, native/ and cuda/ headers, and writes into ./prebuilds.
// Options: --check-fresh exits 0 when the prebuild is newer than every source, 1 otherwise;
// --if-stale builds only when it is not (the `prepack` script: `npm pack` and `npm publish` never
// ship a package without a current prebuild; `npm pack --ignore-scripts` skips it).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const target = `${process.platform}-${process.arch}`;
const outDir = path.join(root, 'prebuilds', target);
const stage = path.join(root, 'build-prebuild');
const sources = ['binding.gyp', 'include', 'native', 'cuda'];

function newestMtime(p) {
  const stat = fs.statSync(p);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...fs.readdirSync(p).map((entry) => newestMtime(path.join(p, entry))));
}

export function prebuildFile() {
  if (!fs.existsSync(outDir)) return null;
  const file = fs.readdirSync(outDir).find((f) => f.endsWith('.node'));
  return file ? path.join(outDir, file) : null;
}

export function prebuildIsFresh() {
  const file = prebuildFile();
  if (file === null) return false;
  const newest = Math.max(...sources.map((s) => newestMtime(path.join(root, s))));
  return fs.statSync(file).mtimeMs >= newest;
}

/** npm's own node-gyp (npm adds it to scripts' PATH; outside npm we find it next to node). */
function nodeGyp() {
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const guesses = [
    path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return guesses.find((g) => fs.existsSync(g)) ?? null;
}

function copyTree(from, to) {
  fs.cpSync(from, to, { recursive: true, filter: (src) => !/\.(o|obj|node)$/.test(src) });
}

function build() {
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  for (const s of sources) copyTree(path.join(root, s), path.join(stage, s));
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, private: true }, null, 2));
  // binding.gyp finds node-addon-api with require() from the build folder.
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(stage, 'node_modules'), os.platform() === 'win32' ? 'junction' : 'dir');

  const env = { ...process.env, JOBS: process.env.JOBS ?? 'max' };
  // On Windows prebuildify runs node-gyp.cmd through a shell, which npm's PATH provides.
  const gyp = process.platform === 'win32' ? null : nodeGyp();
  if (gyp) env.PREBUILD_NODE_GYP = gyp;
  // prebuildify points node-gyp at its own header folder (a download) unless nodedir is set; this
  // node's own headers (<prefix>/include/node) serve when they are installed.
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (!env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = prefix;

  const args = [
    require.resolve('prebuildify/bin.js'),
    '--napi', '--strip',
    `--target=node@${process.versions.node}`, // Node-API: any node >= 20.17 loads it; this node's headers build it
    ...(process.platform === 'linux' ? ['--tag-libc'] : []),
    `--out=${root}`,
  ];
  fs.rmSync(outDir, { recursive: true, force: true });
  console.log(`prebuild: prebuildify ${args.slice(1).join(' ')}  (in ${path.relative(root, stage)}/)`);
  const started = Date.now();
  const r = spawnSync(process.execPath, args, { cwd: stage, env, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`prebuild: prebuildify failed (${r.error ?? `exit ${r.status ?? r.signal}`})`);
    process.exit(1);
  }
  const file = prebuildFile();
  if (file === null) {
    console.error(`prebuild: prebuildify finished but ${path.relative(root, outDir)} holds no .node`);
    process.exit(1);
  }
  // It must load and say it is the CPU addon.
  const info = require(file).info();
  if (info.backend !== 'cpu') throw new Error(`prebuild: ${file} reports backend ${info.backend}`);
  console.log(`prebuild: ${path.relative(root, file)}  ${(fs.statSync(file).size / 1024).toFixed(0)} KiB  ` +
    `(${((Date.now() - started) / 1000).toFixed(0)} s; loads, simd ${info.simdSupported})`);
}

if (path.resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--check-fresh')) process.exit(prebuildIsFresh() ? 0 : 1);
  if (process.argv.includes('--if-stale') && prebuildIsFresh()) {
    console.log(`prebuild: ${path.relative(root, prebuildFile())} is newer than every native source; kept`);
  } else {
    build();
  }
}
