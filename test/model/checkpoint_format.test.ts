// checkpoint_format.test.ts: the safetensors reader and writer. Every malformed header the
// reference implementation rejects gives a FormatError naming the file and what was expected;
// valid files read back exactly (F32, BF16, F16: the native widening is checked on all 65536 bit
// patterns of both half formats); tensors placed past 4 GiB in a (sparse) file read correctly.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { binding } from '../../lib/binding';
import { FormatError } from '../../lib/errors';
import { fromBFloat16, toBFloat16 } from '../../lib/dtype';
import {
  encodeSafetensors, readSafetensors, readSafetensorsHeader, readTensorInto, toFloat32, writeSafetensorsFile,
} from '../../lib/model/safetensors';
import { Rng } from '../util/random';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-st-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let counter = 0;
/** A file of: u64 header length, the header text (an object is JSON-encoded), the data bytes. */
function rawFile(header: unknown, data: Uint8Array | number = 0, lengthOverride?: bigint): string {
  const text = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(lengthOverride ?? BigInt(text.length));
  const bytes = typeof data === 'number' ? new Uint8Array(data) : data;
  const file = path.join(tmp, `f${counter++}.safetensors`);
  fs.writeFileSync(file, Buffer.concat([prefix, text, bytes]));
  return file;
}

/** float16 bits -> number, from the IEEE 754 definition (reference for the native widening). */
function f16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

describe('native float conversions', () => {
  test('bf16 and f16 widening are exact on all 65536 bit patterns', () => {
    const bits = new Uint16Array(65536).map((_, i) => i);
    const out = new Float32Array(65536);
    binding().widenToFloat32(out, bits, 65536, 'bfloat16');
    expect(Buffer.compare(Buffer.from(out.buffer), Buffer.from(fromBFloat16(bits).buffer))).toBe(0);
    binding().widenToFloat32(out, bits, 65536, 'float16');
    for (let i = 0; i < 65536; i++) {
      const want = f16(i);
      if (Number.isNaN(want)) expect(Number.isNaN(out[i])).toBe(true);
      else expect(Object.is(out[i], want)).toBe(true);
    }
  });

  test('bf16 narrowing equals toBFloat16 (round to nearest even, NaN kept)', () => {
    const rng = new Rng(5);
    const values = new Float32Array(200_003);
    const u32 = new Uint32Array(values.buffer);
    for (let i = 0; i < values.length; i++) u32[i] = (rng.next() * 2 ** 32) >>> 0;
    // Ties (low half exactly 0x8000), NaNs, infinities, subnormals, signed zeros.
    values.set([1 + 2 ** -8, 1 + 3 * 2 ** -8, NaN, Infinity, -Infinity, 1e-40, -0, 0, 3.4e38]);
    u32[20] = 0x7f800001;  // a signalling NaN whose payload sits in the low half
    const out = new Uint16Array(values.length);
    binding().narrowToBFloat16(out, values, values.length);
    expect(Buffer.compare(Buffer.from(out.buffer), Buffer.from(toBFloat16(values).buffer))).toBe(0);
  });

  test('bad arguments are typed errors', () => {
    expect(() => binding().widenToFloat32(new Float32Array(3), new Uint16Array(2), 3, 'bfloat16')).toThrow(/inp/);
    expect(() => binding().widenToFloat32(new Float32Array(2), new Uint16Array(2), 2, 'f8' as 'bfloat16')).toThrow(/format/);
    expect(() => binding().narrowToBFloat16(new Uint16Array(2), new Float32Array(3), 3)).toThrow(/out/);
  });
});

/** Runs `body` with the native positioned reader, then with Node's reads (the Windows path). */
function bothReaders(name: string, body: () => void): void {
  test(`${name} (native reader)`, () => {
    expect(binding().readAsFloat32).toBeDefined();
    body();
  });
  test(`${name} (Node reads)`, () => {
    const addon = binding() as { readAsFloat32?: unknown };
    const native = addon.readAsFloat32;
    addon.readAsFloat32 = undefined;
    try {
      body();
    } finally {
      addon.readAsFloat32 = native;
    }
  });
}

describe('safetensors files', () => {
  bothReaders('write -> read round-trips F32 and BF16 tensors with metadata', () => {
    const rng = new Rng(1);
    const a = rng.floats(1000), b = rng.floats(77);
    const file = path.join(tmp, `ok${counter++}.safetensors`);
    writeSafetensorsFile(file, [
      { name: 'a', dtype: 'F32', shape: [10, 100], data: a },
      { name: 'b', dtype: 'BF16', shape: [7, 11], data: b },
      { name: 'empty', dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
    ], { format: 'pt' });
    expect(Buffer.concat(encodeSafetensors([
      { name: 'a', dtype: 'F32', shape: [10, 100], data: a },
      { name: 'b', dtype: 'BF16', shape: [7, 11], data: toBFloat16(b) },
      { name: 'empty', dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
    ], { format: 'pt' })).equals(fs.readFileSync(file))).toBe(true);
    const header = readSafetensorsHeader(file);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect([...header.entries.keys()]).toEqual(['a', 'b', 'empty']);
    const fd = fs.openSync(file, 'r');
    const outA = new Float32Array(1000), outB = new Float32Array(77);
    readTensorInto(fd, header, header.entries.get('a')!, outA);
    readTensorInto(fd, header, header.entries.get('b')!, outB);
    fs.closeSync(fd);
    expect(outA).toEqual(a);
    expect(outB).toEqual(fromBFloat16(toBFloat16(b)));
    const whole = readSafetensors(file);
    expect(toFloat32(whole.tensors.get('b')!)).toEqual(outB);
    expect(whole.tensors.get('empty')!.shape).toEqual([0, 3]);
  });

  bothReaders('tensors spanning many read chunks read exactly (chunk edges included)', () => {
    const big = new Float32Array((1 << 22) + (1 << 20) + 3);
    for (let i = 0; i < big.length; i++) big[i] = Math.sin(i) * 2 ** ((i % 40) - 20);  // (Rng.floats is slow at this size)
    const file = path.join(tmp, `chunks${counter++}.safetensors`);
    writeSafetensorsFile(file, [
      { name: 'pad', dtype: 'BF16', shape: [1], data: Float32Array.of(1) },
      { name: 'half', dtype: 'BF16', shape: [big.length], data: big },
      { name: 'full', dtype: 'F32', shape: [big.length], data: big },
    ]);
    const header = readSafetensorsHeader(file);
    const fd = fs.openSync(file, 'r');
    try {
      const out = new Float32Array(big.length);
      readTensorInto(fd, header, header.entries.get('half')!, out);  // at an odd (2-byte) file offset
      expect(Buffer.compare(Buffer.from(out.buffer), Buffer.from(fromBFloat16(toBFloat16(big)).buffer))).toBe(0);
      readTensorInto(fd, header, header.entries.get('full')!, out);
      expect(Buffer.compare(Buffer.from(out.buffer), Buffer.from(big.buffer))).toBe(0);
    } finally {
      fs.closeSync(fd);
      fs.rmSync(file);
    }
  });

  bothReaders('F16 tensors widen to float32', () => {
    const bits = Uint16Array.from([0x3c00, 0xc000, 0x0001, 0x7bff, 0x8000, 0x3555]);
    const file = rawFile({ h: { dtype: 'F16', shape: [6], data_offsets: [0, 12] } }, new Uint8Array(bits.buffer));
    const header = readSafetensorsHeader(file);
    const out = new Float32Array(6);
    const fd = fs.openSync(file, 'r');
    readTensorInto(fd, header, header.entries.get('h')!, out);
    fs.closeSync(fd);
    expect(Array.from(out)).toEqual(Array.from(bits, f16));
  });

  const t = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });
  const cases: [string, () => string, RegExp][] = [
    ['a file under 8 bytes', () => { const f = path.join(tmp, 'short'); fs.writeFileSync(f, Buffer.alloc(5)); return f; }, /at least 8 bytes but received 5/],
    ['a header length past the end of the file', () => rawFile({}, 0, 1000n), /header length in \[2, 2\].*received 1000/],
    ['a header length over 100 MB', () => rawFile({}, 0, 2n ** 63n), /at most 100 MB.*received 9223372036854775808/],
    ['a header that is not UTF-8', () => { const f = rawFile('{"a":1}'); const b = fs.readFileSync(f); b[10] = 0xff; fs.writeFileSync(f, b); return f; }, /UTF-8/],
    ['a header that is not JSON', () => rawFile('{"a": '), /expected the header to be JSON/],
    ['a header that is not an object', () => rawFile('[1, 2]'), /start with '\{'/],
    ['a header that is a JSON string', () => rawFile('{"a": 1} "x"'), /JSON/],
    ['a duplicated tensor name', () => rawFile('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', 8), /tensor "w" appears twice/],
    ['an entry that is not an object', () => rawFile({ w: [1, 2] }), /tensor w: expected \{dtype, shape, data_offsets\}/],
    ['an unknown dtype', () => rawFile({ w: t('Q4', [1], [0, 1]) }, 1), /tensor w: expected a dtype among .*received "Q4"/],
    ['a missing dtype', () => rawFile({ w: { shape: [1], data_offsets: [0, 4] } }, 4), /tensor w: expected a dtype/],
    ['a negative dimension', () => rawFile({ w: t('F32', [2, -1], [0, 8]) }, 8), /tensor w: expected a shape of non-negative integers/],
    ['a fractional dimension', () => rawFile({ w: t('F32', [1.5], [0, 6]) }, 8), /tensor w: expected a shape of non-negative integers/],
    ['a shape whose byte size overflows 64 bits', () => rawFile({ w: t('F32', [2 ** 40, 2 ** 40], [0, 4]) }, 4), /tensor w: shape \[1099511627776, 1099511627776\] F32 needs 4835703278458516698824704 bytes but the file holds only 4/],
    ['data_offsets of the wrong form', () => rawFile({ w: t('F32', [1], [0]) }, 4), /tensor w: expected data_offsets \[begin, end\]/],
    ['data_offsets beyond 2^53', () => rawFile('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [18014398509481984, 18014398509481988]}}', 4), /tensor w: expected data_offsets \[begin, end\] of non-negative integers/],
    ['data_offsets that disagree with the shape', () => rawFile({ w: t('F32', [2], [0, 4]) }, 8), /tensor w: expected data_offsets spanning 8 bytes .* received \[0, 4\]/],
    ['overlapping tensors', () => rawFile({ a: t('F32', [2], [0, 8]), b: t('F32', [2], [4, 12]) }, 12), /tensor b: data_offsets \[4, 12\] overlap tensor a/],
    ['a hole between tensors', () => rawFile({ a: t('F32', [1], [0, 4]), b: t('F32', [1], [8, 12]) }, 12), /tensor b: expected data_offsets to begin at 4 .* received 8, leaving a hole/],
    ['a hole before the first tensor', () => rawFile({ a: t('F32', [1], [4, 8]) }, 8), /tensor a: expected data_offsets to begin at 0/],
    ['bytes after the last tensor', () => rawFile({ a: t('F32', [1], [0, 4]) }, 12), /end at 4, leaving 8 bytes unaccounted/],
    ['a truncated file', () => rawFile({ a: t('F32', [4], [0, 16]) }, 10), /tensor a: shape \[4\] F32 needs 16 bytes but the file holds only 10 bytes of data \(truncated\?\)/],
    ['a truncated file (offsets past the end)', () => rawFile({ a: t('F32', [1], [0, 4]), b: t('F32', [2], [4, 12]) }, 10), /tensor b: data_offsets \[4, 12\] reach past the 10 bytes/],
    ['metadata that is not strings', () => rawFile({ __metadata__: { step: 3 } }), /__metadata__ to map names to strings/],
  ];
  test.each(cases)('%s is a FormatError naming the file', (_, make, message) => {
    const file = make();
    let error: unknown;
    try {
      readSafetensorsHeader(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).file).toBe(file);
    expect((error as Error).message).toMatch(message);
  });

  test('a missing file is a FormatError', () => {
    expect(() => readSafetensorsHeader(path.join(tmp, 'nope.safetensors'))).toThrow(FormatError);
  });

  bothReaders('a file that shrinks after its header was read is a FormatError at the read', () => {
    const file = path.join(tmp, `shrinks${counter++}.safetensors`);
    writeSafetensorsFile(file, [{ name: 'a', dtype: 'F32', shape: [100], data: new Float32Array(100) }]);
    const header = readSafetensorsHeader(file);
    fs.truncateSync(file, header.fileBytes - 40);
    const fd = fs.openSync(file, 'r');
    expect(() => readTensorInto(fd, header, header.entries.get('a')!, new Float32Array(100))).toThrow(/tensor a: expected 400 bytes .*truncated/);
    fs.closeSync(fd);
  });

  bothReaders('tensors past 4 GiB of a sparse file read exactly (offsets above 2^32)', () => {
    // big: F32 [2^30 + 3] (4 GiB + 12 bytes, never written: a hole), then tail F32 [5] and half BF16 [3].
    const bigNumel = 2 ** 30 + 3;
    const tail = Float32Array.from([1.5, -2, 3.25, 1e-3, 65536]);
    const half = toBFloat16([0.5, -7, 1 / 3]);
    const bigBytes = bigNumel * 4;
    const json = JSON.stringify({
      big: { dtype: 'F32', shape: [bigNumel], data_offsets: [0, bigBytes] },
      tail: { dtype: 'F32', shape: [5], data_offsets: [bigBytes, bigBytes + 20] },
      half: { dtype: 'BF16', shape: [3], data_offsets: [bigBytes + 20, bigBytes + 26] },
    });
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    const file = path.join(tmp, 'sparse.safetensors');
    const dataStart = 8 + Buffer.byteLength(json);
    const fd = fs.openSync(file, 'w+');
    try {
      fs.writeSync(fd, Buffer.concat([prefix, Buffer.from(json)]), 0, dataStart, 0);
      fs.ftruncateSync(fd, dataStart + bigBytes + 26);
      fs.writeSync(fd, new Uint8Array(tail.buffer), 0, 20, dataStart + bigBytes);
      fs.writeSync(fd, new Uint8Array(half.buffer), 0, 6, dataStart + bigBytes + 20);
      expect(fs.fstatSync(fd).size).toBeGreaterThan(2 ** 32);
      expect(fs.fstatSync(fd).blocks * 512).toBeLessThan(2 ** 24);  // sparse: the hole takes no disk
      const parsed = readSafetensorsHeader(file, fd);
      expect(parsed.entries.get('tail')!.begin).toBe(bigBytes);
      const outTail = new Float32Array(5), outHalf = new Float32Array(3);
      readTensorInto(fd, parsed, parsed.entries.get('tail')!, outTail);
      readTensorInto(fd, parsed, parsed.entries.get('half')!, outHalf);
      expect(outTail).toEqual(tail);
      expect(outHalf).toEqual(fromBFloat16(half));
      // A window of the hole reads as zeros through the same path (a position above 2^32 inside big).
      const window = { ...parsed.entries.get('big')!, begin: bigBytes - 64, end: bigBytes, numel: 16 };
      const zeros = new Float32Array(16).fill(7);
      readTensorInto(fd, parsed, window, zeros);
      expect(zeros).toEqual(new Float32Array(16));
    } finally {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
    }
  });
});
