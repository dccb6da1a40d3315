// attention_bf16.test.ts: attention / attentionBackward with bfloat16 q, k, v (and dout), float32 out,
// lse and gradients, against the float64 reference (test/reference/attention.ts) of the
// bf16-rounded inputs, on every device: on cuda the FlashAttention-2 forward on tensor cores of
// cuda/flash_attention.cu (mma.sync, ldmatrix, cp.async; in the simulator cuda/sim/tensor_core.cc)
// and the fp32 backward on exactly widened inputs; on the cpu the fp32 kernels on the exactly
// widened values. Shapes: T = 1 (decode against a cache with kvLength < Smax), 7, 33, 64, 129; left
// padding through kvStart with a row that sees no key (out 0, lse -inf); H = 14 / KVH = 2 GQA;
// D = 64, 128, 40 and 96 (padded to 64 / 128 in the kernel), 36 (D % 8 != 0: the widened fp32
// path); B = 2. On cuda also the decode shape B = 64, T = 1, S = 512, determinism, decode equal to
// the full pass's last row, and unaligned views (the widened path).
//
// Tolerances. cpu: the inputs are widened exactly, so the fp32 contract of attention.test.ts holds
// (2e-5 of the magnitude of the terms). cuda forward: S = q k^T is exact bf16 products summed in
// fp32 (lse within 2e-5 of its terms, as fp32), but FA2 rounds P to bf16 before P v (relative
// error <= 2^-9 per probability, while the denominator sums the unrounded p), so
// |out - exact| <= 2^-9 sum_s p_s |v_s| + fp32 rounding: checked against 2^-8 sum_s p_s |v_s| (the
// reference's outScale / lseScale) plus the fp32 2e-5 of outScale. cuda backward (tensor cores):
// P is recomputed in fp32 from lse and rounded to bf16 for dv = P^T dout (2^-9 per term: dv
// within 2^-8 of the reference's dvScale); Di = dout . out inherits out's error,
// |dDi| <= 2^-8 sum_d |dout_d| sum_s p_s |v_sd| (dsScale contains p diScale), and dS is rounded
// to bf16 for dq = dS k and dk = dS^T q (2^-9 per term): dq, dk within 2^-8 + 2^-9 < 2^-7 of their
// scales. D = 36 takes the fp32 kernels (widened inputs): only the Di term, 2^-8.
import { DTypeError, Tensor, fromBFloat16, ops, toBFloat16 } from '../../lib';
import { type AttentionShape, attentionBackwardReference, attentionReference } from '../reference/attention';
import { expectClose } from '../util/close';
import { describeOn, describeTargets, onTarget, type Target } from '../util/devices';

const FP32 = { rtol: 2e-5, atol: 1e-7 };
const P_ROUNDING = 2 ** -8;

interface Case extends Omit<AttentionShape, 'scale'> { padded: boolean; name: string }
const CASES: Case[] = [
  { name: 'decode T=1 GQA 14/2 D=64 into a cache', B: 2, T: 1, H: 14, KVH: 2, D: 64, S: 70, Smax: 80, padded: true },
  { name: 'chunk T=7 MHA D=128', B: 2, T: 7, H: 2, KVH: 2, D: 128, S: 20, Smax: 24, padded: true },
  { name: 'training T=33 GQA 14/2 D=64', B: 2, T: 33, H: 14, KVH: 2, D: 64, S: 33, Smax: 33, padded: false },
  { name: 'prefill T=64 G=2 D=128 into a cache, padded', B: 2, T: 64, H: 4, KVH: 2, D: 128, S: 100, Smax: 100, padded: true },
  { name: 'training T=129 G=2 D=64 (3 key tiles)', B: 2, T: 129, H: 2, KVH: 1, D: 64, S: 129, Smax: 129, padded: true },
  { name: 'odd D=40 (padded to 64)', B: 2, T: 9, H: 4, KVH: 2, D: 40, S: 12, Smax: 16, padded: true },
  { name: 'D=96 GQA 14/2 (padded to 128)', B: 2, T: 5, H: 14, KVH: 2, D: 96, S: 75, Smax: 80, padded: true },
  { name: 'D=36 (not a multiple of 8: widened fp32 path)', B: 2, T: 6, H: 2, KVH: 1, D: 36, S: 8, Smax: 8, padded: true },
];

/** A seeded xorshift32 stream of uniform floats, for speed: with test/util/random's Rng, drawing
 *  the decode case's 8M values took 86 s of wall time on this (heavily loaded) machine. */
class FastRng {
  private state: number;
  constructor(seed: number) { this.state = (seed * 0x9e3779b1) >>> 0 || 1; }
  floats(n: number, scale = 1): Float32Array {
    const out = new Float32Array(n);
    let x = this.state;
    for (let i = 0; i < n; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      out[i] = ((x >>> 0) / 2 ** 32 * 2 - 1) * scale;
    }
    this.state = x;
    return out;
  }
}

/** bf16 bits of n uniform values in [-scale, scale) and their exact values. */
function bf16Values(rng: FastRng, n: number, scale = 1): { bits: Uint16Array; values: Float32Array } {
  const bits = toBFloat16(rng.floats(n, scale));
  return { bits, values: fromBFloat16(bits) };
}

const plus = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (x, i) => x + b[i]);

function prepare(c: Case, seed: number) {
  const rng = new FastRng(seed);
  const q = bf16Values(rng, c.B * c.T * c.H * c.D, 1.5), k = bf16Values(rng, c.B * c.Smax * c.KVH * c.D);
  const v = bf16Values(rng, c.B * c.Smax * c.KVH * c.D), g = bf16Values(rng, q.bits.length, 0.8);
  // Left padding: row b starts at b*7 mod (S/2 + 1); the last row of a padded batch sees no key at all.
  const kvStart = c.padded ? Int32Array.from({ length: c.B }, (_, b) => (b === c.B - 1 ? c.S : (b * 7) % (Math.floor(c.S / 2) + 1))) : null;
  const s: AttentionShape = { ...c, scale: 1 / Math.sqrt(c.D) };
  const dq0 = rng.floats(q.bits.length), dk0 = rng.floats(k.bits.length), dv0 = rng.floats(v.bits.length);
  const ref = attentionReference(q.values, k.values, v.values, kvStart, s);
  const dref = attentionBackwardReference(g.values, q.values, k.values, v.values, kvStart, s);
  // sum_s p_s |v_s| per output element: outScale = that times lseScale (1 + the row's logit scale).
  const pv = Float64Array.from(ref.outScale, (x, i) => {
    const row = Math.floor(i / c.D), t = Math.floor(row / c.H) % c.T, h = row % c.H, b = Math.floor(row / c.H / c.T);
    return x / ref.lseScale[(b * c.H + h) * c.T + t];
  });
  return {
    q, k, v, g, kvStart, dq0, dk0, dv0, ref, pv,
    dq: plus(dref.dq, dq0), dqScale: plus(dref.dqScale, dq0.map(Math.abs)),
    dk: plus(dref.dk, dk0), dkScale: plus(dref.dkScale, dk0.map(Math.abs)),
    dv: plus(dref.dv, dv0), dvScale: plus(dref.dvScale, dv0.map(Math.abs)),
  };
}
type Prepared = ReturnType<typeof prepare>;
const cache = new Map<string, Prepared>();
const prepared = (c: Case, seed: number) => cache.get(c.name) ?? cache.set(c.name, prepare(c, seed)).get(c.name)!;

/** The forward's tolerance for out: fp32 on the cpu; on cuda also P rounded to bf16 (see the header). */
function outTolerance(device: string, p: Prepared) {
  if (device !== 'cuda') return { ...FP32, scale: p.ref.outScale };
  return { rtol: P_ROUNDING, atol: 1e-6, scale: Float64Array.from(p.pv, (x, i) => x + (FP32.rtol / P_ROUNDING) * p.ref.outScale[i]) };
}

function tensorsOf(c: Case, p: Prepared, device: Target['device']) {
  const dtype = 'bfloat16' as const, qShape = [c.B, c.T, c.H, c.D], kShape = [c.B, c.Smax, c.KVH, c.D];
  return {
    q: Tensor.from(p.q.bits, qShape, { dtype, device }), k: Tensor.from(p.k.bits, kShape, { dtype, device }),
    v: Tensor.from(p.v.bits, kShape, { dtype, device }), kvStart: p.kvStart ? Tensor.from(p.kvStart, [c.B], { device }) : undefined,
  };
}

function check(target: Target, c: Case, p: Prepared) {
  const device = target.device, qShape = [c.B, c.T, c.H, c.D], kShape = [c.B, c.Smax, c.KVH, c.D];
  const t = tensorsOf(c, p, device);
  const out = Tensor.from(new Float32Array(p.q.bits.length).fill(NaN), qShape, { device });
  const lse = Tensor.from(new Float32Array(c.B * c.H * c.T).fill(NaN), [c.B, c.H, c.T], { device });
  ops.attention({ out, lse, ...t }, { kvLength: c.S });
  expect(out.dtype).toBe('float32');
  expectClose(out.toArray(), p.ref.out, outTolerance(device, p));
  expectClose(lse.toArray(), p.ref.lse, { ...FP32, scale: p.ref.lseScale });
  if (p.kvStart) {  // the last row sees no key: out exactly 0, lse -inf
    expect(out.toArray().subarray((c.B - 1) * c.T * c.H * c.D).every((x) => x === 0)).toBe(true);
    expect(lse.toArray().subarray((c.B - 1) * c.H * c.T).every((x) => x === -Infinity)).toBe(true);
  }

  const dq = Tensor.from(p.dq0.slice(), qShape, { device }), dk = Tensor.from(p.dk0.slice(), kShape, { device });
  const dv = Tensor.from(p.dv0.slice(), kShape, { device });
  const dout = Tensor.from(p.g.bits, qShape, { dtype: 'bfloat16', device });
  ops.attentionBackward({ dq, dk, dv, dout, out, lse, ...t }, { kvLength: c.S });
  const tc = device === 'cuda' && c.D % 8 === 0;  // the tensor-core backward (D = 36 runs fp32 kernels)
  const dsTol = tc ? { rtol: 2 * P_ROUNDING, atol: 1e-6 } : device === 'cuda' ? { rtol: P_ROUNDING, atol: 1e-6 } : FP32;
  expectClose(dq.toArray(), p.dq, { ...dsTol, scale: p.dqScale });
  expectClose(dk.toArray(), p.dk, { ...dsTol, scale: p.dkScale });
  expectClose(dv.toArray(), p.dv, { ...(tc ? { rtol: P_ROUNDING, atol: 1e-6 } : FP32), scale: p.dvScale });
  // Cache rows at or past kvLength are never touched.
  const dkArray = dk.toArray();
  let touched = 0;
  for (let b = 0; b < c.B; b++)
    for (let i = (b * c.Smax + c.S) * c.KVH * c.D; i < (b + 1) * c.Smax * c.KVH * c.D; i++) if (dkArray[i] !== p.dk0[i]) touched++;
  expect(touched).toBe(0);
}

describeTargets('attention with bfloat16 inputs', (target) => {
  const device = target.device;
  test.each(CASES)('$name: forward and backward match float64 of the rounded inputs', (c) => {
    const p = prepared(c, c.B * 100 + c.T * 3 + c.D);
    onTarget(target, () => check(target, c, p));
  });

  test('inputs of mixed dtypes are a DTypeError naming the argument', () => {
    onTarget(target, () => {
      const bq = Tensor.zeros([1, 2, 2, 8], { dtype: 'bfloat16', device }), fk = Tensor.zeros([1, 3, 1, 8], { device });
      const bk = Tensor.zeros([1, 3, 1, 8], { dtype: 'bfloat16', device });
      const out = Tensor.zeros([1, 2, 2, 8], { device }), lse = Tensor.zeros([1, 2, 2], { device });
      expect(() => ops.attention({ out, lse, q: bq, k: fk, v: bk })).toThrow(DTypeError);
      expect(() => ops.attention({ out, lse, q: bq, k: fk, v: bk })).toThrow('Expected dtype bfloat16 for k');
      expect(() => ops.attention({ out, lse, q: bq, k: bk, v: fk })).toThrow('Expected dtype bfloat16 for v');
      expect(() => ops.attention({ out: Tensor.zeros([1, 2, 2, 8], { dtype: 'bfloat16', device }), lse, q: bq, k: bk, v: bk })).toThrow(DTypeError);
      const grads = { dq: Tensor.zeros([1, 2, 2, 8], { device }), dk: Tensor.zeros([1, 3, 1, 8], { device }), dv: Tensor.zeros([1, 3, 1, 8], { device }) };
      expect(() => ops.attentionBackward({ ...grads, dout: Tensor.zeros([1, 2, 2, 8], { device }), out, lse, q: bq, k: bk, v: bk }))
        .toThrow('Expected dtype bfloat16 for dout');
    });
  });
});

describeOn('cuda', 'bf16 attention on cuda', () => {
  const device = 'cuda' as const;

  test('decode shape B=64 T=1 H=14 KVH=2 D=64 against a 512-key cache (kvLength < Smax, padded; rows 0, 1, 37, 63 checked)', () => {
    const B = 64, H = 14, KVH = 2, D = 64, S = 500, Smax = 512, dtype = 'bfloat16' as const;
    const rng = new FastRng(9);
    const q = bf16Values(rng, B * H * D, 1.5), k = bf16Values(rng, B * Smax * KVH * D), v = bf16Values(rng, B * Smax * KVH * D);
    const kvStart = Int32Array.from({ length: B }, (_, b) => (b * 13) % 200);
    const out = Tensor.zeros([B, 1, H, D], { device }), lse = Tensor.zeros([B, H, 1], { device });
    ops.attention({ out, lse, q: Tensor.from(q.bits, [B, 1, H, D], { dtype, device }), k: Tensor.from(k.bits, [B, Smax, KVH, D], { dtype, device }),
      v: Tensor.from(v.bits, [B, Smax, KVH, D], { dtype, device }), kvStart: Tensor.from(kvStart, [B], { device }) }, { kvLength: S });
    const outArray = out.toArray(), lseArray = lse.toArray();
    // The float64 reference of a few batch rows (the kernel's rows are independent of each other).
    for (const b of [0, 1, 37, 63]) {
      const qs = H * D, ks = Smax * KVH * D;
      const c: Case = { name: `decode row ${b}`, B: 1, T: 1, H, KVH, D, S, Smax, padded: false };
      const ref = attentionReference(q.values.subarray(b * qs, (b + 1) * qs), k.values.subarray(b * ks, (b + 1) * ks),
        v.values.subarray(b * ks, (b + 1) * ks), [kvStart[b]], { ...c, scale: 1 / Math.sqrt(D) });
      const pv = Float64Array.from(ref.outScale, (x, i) => x / ref.lseScale[Math.floor(i / D)]);
      expectClose(outArray.subarray(b * qs, (b + 1) * qs), ref.out,
        { rtol: P_ROUNDING, atol: 1e-6, scale: Float64Array.from(pv, (x, i) => x + (FP32.rtol / P_ROUNDING) * ref.outScale[i]) });
      expectClose(lseArray.subarray(b * H, (b + 1) * H), ref.lse, { ...FP32, scale: ref.lseScale });
    }
  });

  test('the same bits on repeated runs; decoding one token equals the last row of the full pass', () => {
    const c: Case = { name: 'det', B: 2, T: 40, H: 6, KVH: 2, D: 64, S: 90, Smax: 96, padded: true };
    const p = prepared(c, 41);
    const t = tensorsOf(c, p, device), qShape = [c.B, c.T, c.H, c.D];
    const run = () => {
      const out = Tensor.zeros(qShape, { device }), lse = Tensor.zeros([c.B, c.H, c.T], { device });
      ops.attention({ out, lse, ...t }, { kvLength: c.S });
      return [out, lse].map((x) => Buffer.from(x.toArray().buffer));
    };
    const first = run(), second = run();
    first.forEach((b, i) => expect(Buffer.compare(b, second[i])).toBe(0));
    // Each row's arithmetic does not depend on the other rows of its tile: decoding is bit-identical.
    const full = new Float32Array(first[0].buffer, first[0].byteOffset, p.q.bits.length);
    const qLast = new Uint16Array(c.B * c.H * c.D);
    for (let b = 0; b < c.B; b++) qLast.set(p.q.bits.subarray(((b * c.T + c.T - 1) * c.H) * c.D, ((b * c.T + c.T) * c.H) * c.D), b * c.H * c.D);
    const one = Tensor.zeros([c.B, 1, c.H, c.D], { device });
    ops.attention({ out: one, lse: Tensor.zeros([c.B, c.H, 1], { device }),
      q: Tensor.from(qLast, [c.B, 1, c.H, c.D], { dtype: 'bfloat16', device }), k: t.k, v: t.v, kvStart: t.kvStart }, { kvLength: c.S });
    const oneArray = one.toArray();
    for (let b = 0; b < c.B; b++) {
      const expected = full.subarray(((b * c.T + c.T - 1) * c.H) * c.D, ((b * c.T + c.T) * c.H) * c.D);
      expect(Array.from(oneArray.subarray(b * c.H * c.D, (b + 1) * c.H * c.D))).toEqual(Array.from(expected));
    }
  });

  test('views at odd offsets (rows not 16-byte aligned: the widened path) match float64', () => {
    const c: Case = { name: 'views', B: 2, T: 9, H: 4, KVH: 2, D: 16, S: 12, Smax: 12, padded: true };
    const p = prepared(c, 31), dtype = 'bfloat16' as const;
    const qShape = [c.B, c.T, c.H, c.D], kShape = [c.B, c.Smax, c.KVH, c.D];
    const arena = Tensor.zeros([1 + p.q.bits.length + 2 * p.k.bits.length], { dtype, device });
    const q = arena.view(1, qShape).copyFrom(Tensor.from(p.q.bits, qShape, { dtype, device }));
    const k = arena.view(1 + p.q.bits.length, kShape).copyFrom(Tensor.from(p.k.bits, kShape, { dtype, device }));
    const v = arena.view(1 + p.q.bits.length + p.k.bits.length, kShape).copyFrom(Tensor.from(p.v.bits, kShape, { dtype, device }));
    const out = Tensor.zeros(qShape, { device }), lse = Tensor.zeros([c.B, c.H, c.T], { device });
    ops.attention({ out, lse, q, k, v, kvStart: Tensor.from(p.kvStart!, [c.B], { device }) }, { kvLength: c.S });
    expectClose(out.toArray(), p.ref.out, { ...FP32, scale: p.ref.outScale });  // fp32 kernels: no P rounding
    expectClose(lse.toArray(), p.ref.lse, { ...FP32, scale: p.ref.lseScale });
  });
});
