// cast.test.ts: ops.cast float32 <-> bfloat16 on every device (the cpu; cuda on its 16-byte path
// and on the one-element path of unaligned views) against the IEEE reference of test/reference/cast.ts,
// bit for bit: ties both ways (odd and even last bit), just off ties, float32 subnormals (ties
// among them, the smallest), the largest finite values (rounding to inf), ±0, ±inf, NaNs with
// payloads only in the low bits (they must not become inf) and random bit patterns; every one of
// the 65536 bf16 patterns widens exactly; lengths off a multiple of 8 (the tail); errors.
import { ArgumentError, DTypeError, DeviceError, DisposedError, ShapeError, Tensor, ops } from '../../lib';
import { toBFloat16 } from '../../lib/dtype';
import { bf16BitsReference, castToBf16Reference } from '../reference/cast';
import { describeOn, describeTargets, onTarget } from '../util/devices';
import { Rng } from '../util/random';

const SPECIAL = [
  0x3f808000, // 1 + 2^-8: a tie, last kept bit even -> stays 0x3f80
  0x3f818000, // a tie, last kept bit odd -> rounds up to 0x3f82
  0x3f807fff, 0x3f808001, // just below / above a tie
  0xbf818000, 0xbf808000, // negative ties
  0x00000000, 0x80000000, // ±0
  0x00000001, 0x80000001, // smallest subnormals -> ±0
  0x00008000, 0x00018000, // subnormal ties (even -> down, odd -> up)
  0x00008001, 0x007fffff, // subnormal just past a tie; the largest subnormal rounds to the smallest normal
  0x00800000, 0x0080ffff, // smallest normal; the step past it
  0x7f7f7fff, 0x7f7f8000, 0x7f7fffff, // largest finite: below the tie stays, the tie (odd) and above go to inf
  0xff7f8000, 0xff7f7fff,
  0x7f800000, 0xff800000, // ±inf
  0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fa00000, 0x7fbfffff, 0x7fffffff, // NaNs
  0x3f800000, 0x40490fdb, 0xc2f6e979, // 1, pi, -123.456
];

/** float32 bits -> a Float32Array sharing them (no number conversion, so NaN payloads survive). */
function floatsOf(bits: Uint32Array): Float32Array {
  return new Float32Array(bits.buffer, bits.byteOffset, bits.length);
}

function randomBits(rng: Rng, n: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((rng.int(0, 1 << 16) << 16) | rng.int(0, 1 << 16)) >>> 0;
  return out;
}

/** The positions where two bit arrays differ, hex, the first few. */
function mismatches(actual: ArrayLike<number>, expected: ArrayLike<number>, input: ArrayLike<number>): string[] {
  const out: string[] = [];
  for (let i = 0; i < expected.length && out.length < 5; i++)
    if (actual[i] !== expected[i]) out.push(`[${i}] ${input[i].toString(16)} -> ${actual[i].toString(16)}, expected ${expected[i].toString(16)}`);
  return out;
}

describe('the cast reference', () => {
  test('agrees with lib/dtype toBFloat16 on the special values and random patterns', () => {
    const bits = Uint32Array.from([...SPECIAL, ...randomBits(new Rng(1), 4096)]);
    const viaDtype = toBFloat16(floatsOf(bits));
    expect(mismatches(castToBf16Reference(bits), viaDtype, bits)).toEqual([]);
    expect(bf16BitsReference(0x3f818000)).toBe(0x3f82);
    expect(bf16BitsReference(0x7f7f8000)).toBe(0x7f80);
    expect(bf16BitsReference(0x7f800001)).toBe(0x7fc0);
  });
});

describeTargets('cast', (target) => {
  const device = target.device;
  test.each([1, 7, 8, 37, 4096 + 5])('float32 -> bfloat16 matches the IEEE reference bit for bit: n=%i', (extra) => {
    onTarget(target, () => {
      const bits = Uint32Array.from([...SPECIAL, ...randomBits(new Rng(extra), extra)]);
      const inp = Tensor.from(floatsOf(bits), [bits.length], { device });
      const out = ops.cast({ out: Tensor.zeros([bits.length], { device, dtype: 'bfloat16' }), inp });
      expect(out.dtype).toBe('bfloat16');
      expect(mismatches(out.toArray() as Uint16Array, castToBf16Reference(bits), bits)).toEqual([]);
    });
  });

  test('unaligned views (the one-element path) and a [N, C] shape', () => {
    onTarget(target, () => {
      const bits = Uint32Array.from([...SPECIAL, ...randomBits(new Rng(9), 203)]);
      const whole = Tensor.from(floatsOf(Uint32Array.from([0, ...bits])), [bits.length + 1], { device });
      const inp = whole.view(1, [bits.length]);
      const holder = Tensor.zeros([bits.length + 3], { device, dtype: 'bfloat16' });
      const out = holder.view(3, [bits.length]);
      ops.cast({ out, inp });
      expect(mismatches(out.toArray() as Uint16Array, castToBf16Reference(bits), bits)).toEqual([]);
      const back = Tensor.zeros([bits.length + 1], { device }).view(1, [bits.length]);
      ops.cast({ out: back, inp: out });
      const want = castToBf16Reference(bits), got = new Uint32Array((back.toArray() as Float32Array).buffer);
      expect(mismatches(got, Uint32Array.from(want, (h) => (h << 16) >>> 0), want)).toEqual([]);
      // Shapes may differ when the element counts agree.
      const m = ops.cast({ out: Tensor.zeros([4, 8], { device, dtype: 'bfloat16' }), inp: Tensor.from(new Float32Array(32).fill(1.5), [32], { device }) });
      expect(Array.from(m.toFloat32())).toEqual(new Array(32).fill(1.5));
    });
  });

  test('bfloat16 -> float32 widens all 65536 patterns exactly (NaN payloads kept)', () => {
    onTarget(target, () => {
      const all = new Uint16Array(65536 + 3);
      for (let i = 0; i < all.length; i++) all[i] = i & 0xffff;
      const inp = Tensor.from(all, [all.length], { device, dtype: 'bfloat16' });
      const out = ops.cast({ out: Tensor.zeros([all.length], { device }), inp });
      const got = new Uint32Array((out.toArray() as Float32Array).buffer);
      const want = Uint32Array.from(all, (h) => (h << 16) >>> 0);
      expect(mismatches(got, want, all)).toEqual([]);
      // And back: every bf16 value is a float32 value, so the round trip is the identity, except
      // that a signaling NaN (0x7f81..0x7fbf and negatives) comes back quiet (0x0040 set).
      const again = ops.cast({ out: Tensor.zeros([all.length], { device, dtype: 'bfloat16' }), inp: out });
      const quiet = (h: number) => ((h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0 ? h | 0x40 : h);
      expect(mismatches(again.toArray() as Uint16Array, Uint16Array.from(all, quiet), all)).toEqual([]);
      expect(quiet(0x7f81)).toBe(0x7fc1);
    });
  });

  test('empty tensors', () => {
    onTarget(target, () => {
      const out = ops.cast({ out: Tensor.zeros([0], { device, dtype: 'bfloat16' }), inp: Tensor.zeros([0], { device }) });
      expect(out.numel).toBe(0);
    });
  });
});

describeOn('cuda', 'cast on cuda', () => {
  test('the cpu and cuda give the same bits; mixing devices is a DeviceError', () => {
    const bits = randomBits(new Rng(5), 10000);
    const cpu = ops.cast({ out: Tensor.zeros([bits.length], { dtype: 'bfloat16' }), inp: Tensor.from(floatsOf(bits), [bits.length]) });
    const dev = ops.cast({
      out: Tensor.zeros([bits.length], { device: 'cuda', dtype: 'bfloat16' }), inp: Tensor.from(floatsOf(bits), [bits.length], { device: 'cuda' }),
    });
    expect(mismatches(dev.toArray() as Uint16Array, cpu.toArray() as Uint16Array, bits)).toEqual([]);
    expect(() => ops.cast({ out: Tensor.zeros([4], { dtype: 'bfloat16' }), inp: Tensor.zeros([4], { device: 'cuda' }) })).toThrow(DeviceError);
  });
});

describeOn('cpu', 'cast errors', () => {
  test('malformed input gives typed errors naming the argument', () => {
    const f = Tensor.zeros([4]), h = Tensor.zeros([4], { dtype: 'bfloat16' });
    expect(() => ops.cast({ out: Tensor.zeros([4]), inp: f })).toThrow(DTypeError);
    expect(() => ops.cast({ out: Tensor.zeros([4]), inp: f })).toThrow(/out.*bfloat16/);
    expect(() => ops.cast({ out: h, inp: Tensor.zeros([4], { dtype: 'bfloat16' }) })).toThrow(DTypeError);
    expect(() => ops.cast({ out: h, inp: Tensor.zeros([4], { dtype: 'int32' }) })).toThrow(/inp/);
    expect(() => ops.cast({ out: Tensor.zeros([5], { dtype: 'bfloat16' }), inp: f })).toThrow(ShapeError);
    expect(() => ops.cast({ out: h } as never)).toThrow(ArgumentError);
    expect(() => ops.cast({ out: h, inp: f, extra: f } as never)).toThrow(ArgumentError);
    expect(() => ops.cast(null as never)).toThrow(ArgumentError);
    const disposed = Tensor.zeros([4]);
    disposed.dispose();
    expect(() => ops.cast({ out: h, inp: disposed })).toThrow(DisposedError);
  });
});
