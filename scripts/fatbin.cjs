// fatbin.cjs: which GPU architectures a CUDA .node really embeds, read from the file itself (this
// machine's CUDA has no cuobjdump). scripts/pack.mjs writes the result into the CUDA package's
// manifest; test/packaging/fatbin.test.ts checks the parser on a synthetic file.
//
// Layout (NVIDIA's public fatbinary_section.h names the sections; the container layout follows the
// published reverse-engineering notes and was checked against nvcc 13.0 output):
//   ELF section .nv_fatbin = containers, one per translation unit that has device code, 8-aligned
//   container: u32 magic 0xBA55ED50, u16 version 1, u16 header size (16), u64 bytes after header
//   entry:     u16 kind (1 PTX, 2 ELF cubin), u16 version, u32 entry header size, u64 payload size,
//              u32 compressed size (0 = stored), ..., u32 sm at +28, u32 name offset at +32 and
//              u32 name length at +36 (the source file), u64 flags at +40 (0x8000 = zstd payload),
//              u64 uncompressed size at +56; payload right after the entry header.
// Cross-checks on each payload: a cubin's own ELF header names its SM in e_flags
// (bits 8-15 from ELF ABI version 8 on, bits 0-7 before), and PTX text names it in `.target sm_NN`
// (read after `zstd -d` when the payload is compressed and zstd is installed).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');

const FATBIN_MAGIC = 0xba55ed50;
const ZSTD_MAGIC = 0xfd2fb528;

/** The [offset, size] of an ELF64 little-endian section by name, or null. */
function elfSection(buf, wanted) {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error('not a 64-bit little-endian ELF file');
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const shstrndx = buf.readUInt16LE(0x3e);
  const header = (i) => {
    const o = shoff + i * shentsize;
    return { name: buf.readUInt32LE(o), offset: Number(buf.readBigUInt64LE(o + 0x18)), size: Number(buf.readBigUInt64LE(o + 0x20)) };
  };
  const strings = header(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = header(i);
    const start = strings.offset + s.name;
    const end = buf.indexOf(0, start);
    if (buf.toString('latin1', start, end) === wanted) return { offset: s.offset, size: s.size };
  }
  return null;
}

/** SM of a cubin from its ELF header, or null when the payload is not a readable cubin. */
function cubinSm(payload) {
  if (payload.length < 64 || payload.readUInt32BE(0) !== 0x7f454c46 || payload[7] !== 0x41) return null;
  const abiVersion = payload[8];
  const flags = payload.readUInt32LE(48);
  return abiVersion >= 8 ? (flags >> 8) & 0xff : flags & 0xff;
}

function zstdDecompress(data) {
  const r = spawnSync('zstd', ['-d', '-c', '-q'], { input: data, maxBuffer: 1 << 30 });
  return r.status === 0 ? r.stdout : null;
}

/** `.target sm_NN` of a PTX payload (decompressed when needed), or null when it cannot be read. */
function ptxTarget(payload, compressed) {
  let text = payload;
  if (compressed || (payload.length >= 4 && payload.readUInt32LE(0) === ZSTD_MAGIC)) {
    text = zstdDecompress(payload);
    if (text === null) return null;
  }
  const m = /\.target\s+sm_(\d+)/.exec(text.toString('latin1', 0, Math.min(text.length, 4096)));
  return m ? Number(m[1]) : null;
}

/**
 * Every container and entry in the file's .nv_fatbin section.
 * @returns {{ containers: { offset: number, source: string, entries: { kind: 'sass'|'ptx', sm: number, bytes: number, compressed: boolean, payloadSm: number|null }[] }[] }}
 */
function readFatbin(file) {
  const buf = typeof file === 'string' ? fs.readFileSync(file) : file;
  const section = elfSection(buf, '.nv_fatbin');
  if (section === null) throw new Error('no .nv_fatbin section: not a CUDA build');
  const end = section.offset + section.size;
  const containers = [];
  let p = section.offset;
  while (p + 16 <= end) {
    if (buf.readUInt32LE(p) !== FATBIN_MAGIC) {
      p += 8; // padding between containers
      continue;
    }
    const headerSize = buf.readUInt16LE(p + 6);
    const bodySize = Number(buf.readBigUInt64LE(p + 8));
    const containerEnd = p + headerSize + bodySize;
    if (containerEnd > end) throw new Error(`fatbin container at ${p - section.offset} runs past the section`);
    const entries = [];
    let source = '';
    for (let q = p + headerSize; q + 64 <= containerEnd;) {
      const kindCode = buf.readUInt16LE(q);
      const entrySize = buf.readUInt32LE(q + 4);
      const payloadSize = Number(buf.readBigUInt64LE(q + 8));
      const compressedSize = buf.readUInt32LE(q + 16);
      const sm = buf.readUInt32LE(q + 28);
      const nameOffset = buf.readUInt32LE(q + 32);
      const nameLength = buf.readUInt32LE(q + 36);
      const compressed = (buf.readBigUInt64LE(q + 40) & 0x8000n) !== 0n;
      if (entrySize < 64) throw new Error(`fatbin entry at ${q - section.offset} has a ${entrySize}-byte header`);
      if (nameLength > 0 && nameOffset + nameLength <= entrySize) source = buf.toString('latin1', q + nameOffset, q + nameOffset + nameLength);
      const payload = buf.subarray(q + entrySize, q + entrySize + (compressedSize || payloadSize));
      if (kindCode === 1 || kindCode === 2) {
        const kind = kindCode === 2 ? 'sass' : 'ptx';
        entries.push({ kind, sm, bytes: payloadSize, compressed, payloadSm: kind === 'sass' ? cubinSm(payload) : ptxTarget(payload, compressed) });
      }
      q += entrySize + payloadSize;
    }
    containers.push({ offset: p - section.offset, source, entries });
    p = containerEnd;
  }
  return { containers };
}

/** Architectures every container has: { sass: ['sm_80', ...], ptx: ['compute_90'] }, plus problems. */
function summarize(fatbin) {
  const name = (e) => (e.kind === 'sass' ? `sm_${e.sm}` : `compute_${e.sm}`);
  const sets = fatbin.containers.map((c) => new Set(c.entries.map(name)));
  const all = [...new Set(sets.flatMap((s) => [...s]))].sort();
  const everywhere = all.filter((a) => sets.every((s) => s.has(a)));
  const problems = [];
  for (const c of fatbin.containers) {
    const have = new Set(c.entries.map(name));
    const missing = all.filter((a) => !have.has(a));
    if (missing.length) problems.push(`${c.source || `container at ${c.offset}`} lacks ${missing.join(', ')}`);
    for (const e of c.entries) {
      if (e.payloadSm !== null && e.payloadSm !== e.sm)
        problems.push(`${c.source}: the ${name(e)} entry's payload says sm_${e.payloadSm}`);
    }
  }
  const checked = fatbin.containers.flatMap((c) => c.entries).filter((e) => e.payloadSm !== null).length;
  const total = fatbin.containers.flatMap((c) => c.entries).length;
  return {
    sass: everywhere.filter((a) => a.startsWith('sm_')),
    ptx: everywhere.filter((a) => a.startsWith('compute_')),
    containers: fatbin.containers.length,
    payloadsChecked: `${checked}/${total}`,
    problems,
  };
}

/**
 * The architectures the build asked for, read from the build folder (CMake's Ninja or Makefile
 * files): { sass: [...], ptx: [...], from: file } or null when the build record is not there.
 */
function buildRecord(buildDir) {
  const path = require('node:path');
  const candidates = [path.join(buildDir, 'build.ninja'), path.join(buildDir, 'CMakeFiles', 'steprl.dir', 'flags.make')];
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, 'utf8');
    const sass = new Set();
    const ptx = new Set();
    for (const m of text.matchAll(/--generate-code=arch=compute_(\d+),code=\[([^\]]+)\]/g)) {
      for (const code of m[2].split(',')) {
        if (code.startsWith('sm_')) sass.add(code);
        if (code.startsWith('compute_')) ptx.add(code);
      }
    }
    if (sass.size || ptx.size) return { sass: [...sass].sort(), ptx: [...ptx].sort(), from: file };
  }
  return null;
}

module.exports = { readFatbin, summarize, buildRecord, elfSection, cubinSm };
