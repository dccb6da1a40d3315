#!/usr/bin/env node
// sources.mjs: the one rule for which native sources each build compiles, read by binding.gyp
// (`<!@(node native/sources.mjs cpu)`), CMakeLists.txt and cuda/cuda.cmake, so a new source file
// needs no edit to any build list. Shipped in the package (under native/) because node-gyp runs
// it when `npm install` falls back to a source build.
//   cpu          every native/**/*.cc except the device glue: the CPU addon
//   device-glue  the files the CUDA and simulator builds add (they call the CUDA runtime)
// Paths are relative to the package root, with forward slashes, sorted, one per line.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Glue between N-API and device memory (CUDA runtime calls): compiled only with STEPRL_CUDA=ON/SIM.
export const DEVICE_GLUE = ['native/device_buffer.cc', 'native/ops/device.cc'];

/** Every .cc under native/, relative to the package root. */
function nativeSources() {
  const found = [];
  const visit = (dir) => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) visit(rel);
      else if (entry.name.endsWith('.cc')) found.push(rel);
    }
  };
  visit('native');
  return found.sort();
}

export function sources(kind) {
  if (kind === 'cpu') return nativeSources().filter((f) => !DEVICE_GLUE.includes(f));
  if (kind === 'device-glue') return [...DEVICE_GLUE];
  throw new Error(`sources.mjs: unknown list "${kind}" (expected cpu or device-glue)`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    console.log(sources(process.argv[2]).join('\n'));
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
}
