// rewrite.mjs: the source pass the simulator build runs over cuda/*.cu and *.cuh before g++ sees them.
//
// g++ cannot keep what two CUDA annotations say, so this pass spells it out as calls the simulator
// runs (cuda/sim/device.h defines both macros); every other byte, and every line number, is kept:
//   __launch_bounds__(N, ...) kernel(params) {   ->  ... { STEPRL_SIM_KERNEL_BOUNDS(N, ...);
//     each thread checks, before the body runs, that the block has at most N threads (a GPU
//     refuses such a launch: too many resources requested);
//   __shared__ T name[n];                         ->  __shared__ T name[n]; STEPRL_SIM_STATIC_SHARED(name);
//     the first thread of a block to pass the declaration fills the (thread_local) array with
//     0xff bytes (NaN) and adds its size to the block's static shared memory, which the launch
//     limits then count (static + dynamic).
// Comments, string and character literals and preprocessor lines (so `extern __shared__` inside
// STEPRL_DYNAMIC_SHARED's nvcc branch) are left alone. The output starts with `#line 1 "<source>"`,
// so diagnostics and __FILE__ name the original file; quoted includes resolve next to the output
// first (the rewritten headers), then through the -iquote of the original folder.
//
// Usage:  node cuda/sim/rewrite.mjs <in> <out>            one file
//         node cuda/sim/rewrite.mjs --tree <dir> <outdir>  every *.cu, *.cuh, *.h under dir, same layout
// A build rewrites the headers too (plain .h files, e.g. cuda/sim/selftest_harness.h, are copied
// through the same pass): a translation unit must never reach one header both as the original
// and as its rewritten copy (#pragma once tells them apart, so it would be defined twice).
import * as fs from 'node:fs';
import * as path from 'node:path';

// Marks each character of `text` as code (true) or not (comment, literal, preprocessor line).
function codeMask(text) {
  const mask = new Uint8Array(text.length);
  let i = 0;
  let lineStart = true;
  while (i < text.length) {
    const c = text[i];
    if (lineStart && c === '#') {  // a directive, continued by trailing backslashes
      while (i < text.length && text[i] !== '\n') {
        if (text[i] === '\\' && text[i + 1] === '\n') i += 2;
        else i += 1;
      }
      continue;
    }
    if (c === '\n') { lineStart = true; i += 1; continue; }
    if (c === ' ' || c === '\t' || c === '\r') { i += 1; continue; }
    lineStart = false;
    if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i += 1;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      // Raw strings and digit separators (1'000) are not used by the kernels; a ' after a digit is
      // read as a separator to be safe.
      if (c === "'" && /[0-9A-Fa-f]/.test(text[i - 1] ?? '')) { mask[i] = 1; i += 1; continue; }
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      i = j + 1;
      continue;
    }
    mask[i] = 1;
    i += 1;
  }
  return mask;
}

const isIdent = (c) => c !== undefined && /[A-Za-z0-9_]/.test(c);

class RewriteError extends Error {}

function lineOf(text, index) {
  return text.slice(0, index).split('\n').length;
}

// Index after the bracket matching the one at `open` (code characters only).
function skipBalanced(text, mask, open, file) {
  const pairs = { '(': ')', '[': ']', '{': '}', '<': '>' };
  const stack = [];
  for (let i = open; i < text.length; i += 1) {
    if (!mask[i]) continue;
    const c = text[i];
    if (c === '(' || c === '[' || c === '{') stack.push(pairs[c]);
    else if (c === ')' || c === ']' || c === '}') {
      if (stack.pop() !== c) throw new RewriteError(`${file}:${lineOf(text, i)}: unbalanced '${c}'`);
      if (stack.length === 0) return i + 1;
    }
  }
  throw new RewriteError(`${file}:${lineOf(text, open)}: no closing bracket`);
}

function nextCode(text, mask, from) {
  let i = from;
  while (i < text.length && (!mask[i] || /\s/.test(text[i]))) i += 1;
  return i;
}

// Occurrences of identifier `word` in code, as start indices.
function findWord(text, mask, word) {
  const found = [];
  let i = text.indexOf(word);
  while (i >= 0) {
    if (mask[i] && !isIdent(text[i - 1]) && !isIdent(text[i + word.length])) found.push(i);
    i = text.indexOf(word, i + word.length);
  }
  return found;
}

// Splits a declaration (code only, no initializer) at its top-level commas; outside brackets a
// '<' can only open a template argument list (Tile<float, 32> t).
function splitTopLevel(text) {
  const parts = [];
  let depth = 0, angle = 0, start = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '(' || c === '[' || c === '{') depth += 1;
    else if (c === ')' || c === ']' || c === '}') depth -= 1;
    else if (depth === 0 && c === '<') angle += 1;
    else if (depth === 0 && c === '>') angle -= 1;
    else if (c === ',' && depth === 0 && angle === 0) { parts.push(text.slice(start, i)); start = i + 1; }
  }
  parts.push(text.slice(start));
  return parts;
}

// The declared name of one declarator: the identifier before its first top-level '[', else its last.
function declaratorName(declarator) {
  let depth = 0, cut = declarator.length;
  for (let i = 0; i < declarator.length; i += 1) {
    const c = declarator[i];
    if (c === '(') depth += 1;
    else if (c === ')') depth -= 1;
    else if (c === '[' && depth === 0) { cut = i; break; }
  }
  const ids = declarator.slice(0, cut).match(/[A-Za-z_][A-Za-z0-9_]*/g);
  return ids ? ids[ids.length - 1] : null;
}

export function rewrite(text, file = '<input>') {
  const mask = codeMask(text);
  const inserts = [];  // [index, text]
  for (const at of findWord(text, mask, '__launch_bounds__')) {
    const open = nextCode(text, mask, at + '__launch_bounds__'.length);
    if (text[open] !== '(') throw new RewriteError(`${file}:${lineOf(text, at)}: __launch_bounds__ without '('`);
    const close = skipBalanced(text, mask, open, file);
    const args = text.slice(open + 1, close - 1).replace(/\s+/g, ' ').trim();
    let paramsOpen = close;
    while (paramsOpen < text.length && !(mask[paramsOpen] && text[paramsOpen] === '(')) paramsOpen += 1;
    const body = nextCode(text, mask, skipBalanced(text, mask, paramsOpen, file));
    if (text[body] === ';') continue;  // a declaration: the definition carries the check
    if (text[body] !== '{') {
      throw new RewriteError(`${file}:${lineOf(text, at)}: expected the kernel body '{' after __launch_bounds__(${args})`);
    }
    inserts.push([body + 1, ` STEPRL_SIM_KERNEL_BOUNDS(${args});`]);
  }
  for (const at of findWord(text, mask, '__shared__')) {
    const before = text.slice(Math.max(0, at - 40), at);
    if (/\bextern\s*$/.test(before)) continue;  // dynamic shared memory (nvcc spelling)
    let end = at;
    let depth = 0;
    for (; end < text.length; end += 1) {
      if (!mask[end]) continue;
      const c = text[end];
      if (c === '(' || c === '[' || c === '{') depth += 1;
      else if (c === ')' || c === ']' || c === '}') depth -= 1;
      else if (c === ';' && depth === 0) break;
    }
    if (end >= text.length) throw new RewriteError(`${file}:${lineOf(text, at)}: __shared__ declaration without ';'`);
    let declaration = '';
    for (let i = at + '__shared__'.length; i < end; i += 1) declaration += mask[i] ? text[i] : ' ';
    if (/=/.test(declaration)) {
      throw new RewriteError(`${file}:${lineOf(text, at)}: a __shared__ variable cannot have an initializer`);
    }
    const registrations = splitTopLevel(declaration).map((d) => {
      const name = declaratorName(d);
      if (!name) throw new RewriteError(`${file}:${lineOf(text, at)}: cannot find the name in '__shared__${declaration}'`);
      return ` STEPRL_SIM_STATIC_SHARED(${name});`;
    });
    inserts.push([end + 1, registrations.join('')]);
  }
  inserts.sort((a, b) => a[0] - b[0]);
  let out = '';
  let last = 0;
  for (const [index, addition] of inserts) {
    out += text.slice(last, index) + addition;
    last = index;
  }
  return out + text.slice(last);
}

// Writes only when the content changes, so an unchanged file keeps its time stamp (no recompile).
function rewriteFile(input, output) {
  const source = path.resolve(input);
  const text = fs.readFileSync(source, 'utf8');
  const result = `#line 1 ${JSON.stringify(source)}\n${rewrite(text, input)}`;
  if (fs.existsSync(output) && fs.readFileSync(output, 'utf8') === result) return;
  fs.mkdirSync(path.dirname(output), { recursive: true });
  fs.writeFileSync(output, result);
}

function listTree(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTree(full));
    else if (/\.(cu|cuh|h)$/.test(entry.name)) out.push(full);
  }
  return out;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain) {
  const args = process.argv.slice(2);
  try {
    if (args[0] === '--tree' && args.length === 3) {
      for (const file of listTree(args[1])) rewriteFile(file, path.join(args[2], path.relative(args[1], file)));
    } else if (args.length === 2) {
      rewriteFile(args[0], args[1]);
    } else {
      console.error('usage: node cuda/sim/rewrite.mjs <in> <out> | --tree <dir> <outdir>');
      process.exit(2);
    }
  } catch (e) {
    if (!(e instanceof RewriteError)) throw e;
    console.error(`cuda/sim/rewrite.mjs: ${e.message}`);
    process.exit(1);
  }
}
