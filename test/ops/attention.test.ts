// attention.test.ts: attention / attentionBackward against the float64 reference on every SIMD
// level: MHA and GQA (G = 1, 2, 3, 8), odd head sizes, training (S = T), chunked prefill and T = 1
// decoding against a KV cache with kvLength < Smax, left padding through kvStart (including a row
// with no valid key: out 0, lse -inf, no NaN), gradients accumulated into non-zero buffers with a
// random upstream gradient, cache rows past kvLength untouched, thread-count determinism, errors;
// on every device (cuda: head sizes padded to 32/64/128/256, stacked GQA query tiles, 16-byte and
// scalar paths, the same bits on repeated runs, head sizes above 256 refused, and on the simulator
// posing as sm_86 / sm_80, head sizes whose tiles exceed the GPU's shared memory refused).
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { ArgumentError, DeviceError, ShapeError, Tensor, backendInfo, ops, setNumThreads } from '../../lib';
import { type AttentionShape, attentionBackwardReference, attentionReference } from '../reference/attention';
import { expectClose } from '../util/close';
import { describeOn, describeTargets, onTarget } from '../util/devices';
import { Rng } from '../util/random';

// Forward within 2e-5 of the magnitude of the terms summed. The backward's dq and dk come from
// dS = P (dP - Di), a difference of two fp32 sums over the head and the keys, amplified by |q|,|k|:
// the reference's scale already measures those terms, so the same 2e-5 holds.
const TOL = { rtol: 2e-5, atol: 1e-7 };

interface Case extends Omit<AttentionShape, 'scale'> { padded: boolean; name: string }
const CASES: Case[] = [
  { name: 'tiny', B: 1, T: 1, H: 1, KVH: 1, D: 1, S: 1, Smax: 1, padded: false },
  { name: 'MHA odd', B: 2, T: 17, H: 3, KVH: 3, D: 16, S: 17, Smax: 17, padded: false },
  { name: 'GQA G=3 prefill into a cache, padded', B: 3, T: 70, H: 6, KVH: 2, D: 33, S: 90, Smax: 100, padded: true },
  { name: 'GQA G=8 training', B: 2, T: 130, H: 8, KVH: 1, D: 64, S: 130, Smax: 130, padded: true },
  { name: 'GQA G=2 decode T=1', B: 4, T: 1, H: 8, KVH: 4, D: 64, S: 200, Smax: 256, padded: true },
  { name: 'MHA chunk T=5', B: 2, T: 5, H: 2, KVH: 2, D: 80, S: 40, Smax: 48, padded: true },
  { name: 'GQA G=2 D=200 (256-wide tiles)', B: 1, T: 37, H: 4, KVH: 2, D: 200, S: 45, Smax: 45, padded: false },
];

function makeInputs(c: Case, seed: number) {
  const rng = new Rng(seed);
  const q = rng.floats(c.B * c.T * c.H * c.D, 1.5), k = rng.floats(c.B * c.Smax * c.KVH * c.D), v = rng.floats(c.B * c.Smax * c.KVH * c.D);
  // Left padding: row b starts at b*7 mod (S/2); the last row of a padded batch sees no key at all.
  const kvStart = c.padded ? Int32Array.from({ length: c.B }, (_, b) => (b === c.B - 1 && c.B > 1 ? c.S : (b * 7) % (Math.floor(c.S / 2) + 1))) : null;
  return { rng, q, k, v, kvStart };
}

const plus = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (x, i) => x + b[i]);

// Inputs and float64 references of each case, built once and shared by the SIMD levels.
const prepared = new Map<string, ReturnType<typeof prepare>>();
function prepare(c: Case) {
  const { rng, q, k, v, kvStart } = makeInputs(c, c.B * 100 + c.T + c.D);
  const s: AttentionShape = { ...c, scale: 1 / Math.sqrt(c.D) };
  const g = rng.floats(q.length, 0.8);
  const dq0 = rng.floats(q.length), dk0 = rng.floats(k.length), dv0 = rng.floats(v.length);
  const ref = attentionReference(q, k, v, kvStart, s), dref = attentionBackwardReference(g, q, k, v, kvStart, s);
  return {
    q, k, v, kvStart, g, dq0, dk0, dv0, ref,
    dq: plus(dref.dq, dq0), dqScale: plus(dref.dqScale, dq0.map(Math.abs)),
    dk: plus(dref.dk, dk0), dkScale: plus(dref.dkScale, dk0.map(Math.abs)),
    dv: plus(dref.dv, dv0), dvScale: plus(dref.dvScale, dv0.map(Math.abs)),
  };
}
const preparedCase = (c: Case) => prepared.get(c.name) ?? prepared.set(c.name, prepare(c)).get(c.name)!;

describeTargets('attention', (target) => {
  const device = target.device;
  test.each(CASES)('$name: forward and backward match float64', (c) => {
    const p = preparedCase(c);
    onTarget(target, () => {
      const qShape = [c.B, c.T, c.H, c.D], kShape = [c.B, c.Smax, c.KVH, c.D];
      const tq = Tensor.from(p.q, qShape, { device }), tk = Tensor.from(p.k, kShape, { device }), tv = Tensor.from(p.v, kShape, { device });
      const tStart = p.kvStart ? Tensor.from(p.kvStart, [c.B], { device }) : undefined;
      const out = Tensor.from(new Float32Array(p.q.length).fill(NaN), qShape, { device }), lse = Tensor.zeros([c.B, c.H, c.T], { device });
      ops.attention({ out, lse, q: tq, k: tk, v: tv, kvStart: tStart }, { kvLength: c.S });
      expectClose(out.toArray(), p.ref.out, { ...TOL, scale: p.ref.outScale });
      expectClose(lse.toArray(), p.ref.lse, { ...TOL, scale: p.ref.lseScale });
      if (p.kvStart && c.B > 1) {
        const last = out.toArray().subarray((c.B - 1) * c.T * c.H * c.D);
        expect(last.every((x) => x === 0)).toBe(true);
      }

      const dq = Tensor.from(p.dq0.slice(), qShape, { device }), dk = Tensor.from(p.dk0.slice(), kShape, { device });
      const dv = Tensor.from(p.dv0.slice(), kShape, { device });
      ops.attentionBackward({ dq, dk, dv, dout: Tensor.from(p.g, qShape, { device }), out, lse, q: tq, k: tk, v: tv, kvStart: tStart }, { kvLength: c.S });
      expectClose(dq.toArray(), p.dq, { ...TOL, scale: p.dqScale });
      expectClose(dk.toArray(), p.dk, { ...TOL, scale: p.dkScale });
      expectClose(dv.toArray(), p.dv, { ...TOL, scale: p.dvScale });
      // Cache rows at or past kvLength are never touched (exactly their old values).
      const dkArray = dk.toArray();
      let touched = 0;
      for (let b = 0; b < c.B; b++)
        for (let i = (b * c.Smax + c.S) * c.KVH * c.D; i < (b + 1) * c.Smax * c.KVH * c.D; i++) if (dkArray[i] !== p.dk0[i]) touched++;
      expect(touched).toBe(0);
    });
  });

  test('views at odd offsets of one buffer (the element-wise path) match the aligned result', () => {
    onTarget(target, () => {
      const c: Case = { name: 'views', B: 2, T: 9, H: 4, KVH: 2, D: 16, S: 12, Smax: 12, padded: true };
      const { rng, q, k, v, kvStart } = makeInputs(c, 31);
      const qShape = [c.B, c.T, c.H, c.D], kShape = [c.B, c.Smax, c.KVH, c.D];
      const s: AttentionShape = { ...c, scale: 1 / Math.sqrt(c.D) };
      const arena = Tensor.zeros([1 + 3 * q.length + 4 * k.length + c.B * c.H * c.T], { device });
      let offset = 1;
      const take = (shape: number[], data?: Float32Array) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const t = arena.view(offset, shape);
        offset += n;
        return data ? t.copyFrom(Tensor.from(data, shape, { device })) : t;
      };
      const tq = take(qShape, q), tk = take(kShape, k), tv = take(kShape, v), out = take(qShape), lse = take([c.B, c.H, c.T]);
      const tStart = Tensor.from(kvStart!, [c.B], { device });
      ops.attention({ out, lse, q: tq, k: tk, v: tv, kvStart: tStart }, { kvLength: c.S });
      const ref = attentionReference(q, k, v, kvStart, s);
      expectClose(out.toArray(), ref.out, { ...TOL, scale: ref.outScale });
      const g = rng.floats(q.length);
      const dq = take(qShape).fill(0), dk = take(kShape).fill(0), dv = take(kShape).fill(0);
      ops.attentionBackward({ dq, dk, dv, dout: Tensor.from(g, qShape, { device }), out, lse, q: tq, k: tk, v: tv, kvStart: tStart }, { kvLength: c.S });
      const dref = attentionBackwardReference(g, q, k, v, kvStart, s);
      expectClose(dq.toArray(), dref.dq, { ...TOL, scale: dref.dqScale });
      expectClose(dk.toArray(), dref.dk, { ...TOL, scale: dref.dkScale });
      expectClose(dv.toArray(), dref.dv, { ...TOL, scale: dref.dvScale });
    });
  });
});

describeOn('cuda', 'attention on cuda', () => {
  const device = 'cuda' as const;
  const c: Case = { name: 'det', B: 2, T: 70, H: 6, KVH: 2, D: 32, S: 80, Smax: 90, padded: true };
  test('the same bits on repeated runs; decoding one token equals the last row of the full pass', () => {
    const { rng, q, k, v, kvStart } = makeInputs(c, 41);
    const qShape = [c.B, c.T, c.H, c.D], kShape = [c.B, c.Smax, c.KVH, c.D];
    const t = { q: Tensor.from(q, qShape, { device }), k: Tensor.from(k, kShape, { device }), v: Tensor.from(v, kShape, { device }),
      kvStart: Tensor.from(kvStart!, [c.B], { device }) };
    const dout = Tensor.from(rng.floats(q.length), qShape, { device });
    const run = () => {
      const out = Tensor.zeros(qShape, { device }), lse = Tensor.zeros([c.B, c.H, c.T], { device });
      ops.attention({ out, lse, ...t }, { kvLength: c.S });
      const grads = { dq: Tensor.zeros(qShape, { device }), dk: Tensor.zeros(kShape, { device }), dv: Tensor.zeros(kShape, { device }) };
      ops.attentionBackward({ ...grads, dout, out, lse, ...t }, { kvLength: c.S });
      return [out, lse, grads.dq, grads.dk, grads.dv].map((x) => Buffer.from(x.toArray().buffer));
    };
    const first = run(), second = run();
    first.forEach((b, i) => expect(Buffer.compare(b, second[i])).toBe(0));
    // One query per row at key position S - 1 against the same cache.
    const full = new Float32Array(first[0].buffer, first[0].byteOffset, q.length);
    const qLast = new Float32Array(c.B * c.H * c.D);
    for (let b = 0; b < c.B; b++) qLast.set(q.subarray(((b * c.T + c.T - 1) * c.H) * c.D, ((b * c.T + c.T) * c.H) * c.D), b * c.H * c.D);
    const one = Tensor.zeros([c.B, 1, c.H, c.D], { device });
    ops.attention({ out: one, lse: Tensor.zeros([c.B, c.H, 1], { device }), q: Tensor.from(qLast, [c.B, 1, c.H, c.D], { device }), k: t.k, v: t.v, kvStart: t.kvStart },
      { kvLength: c.S });
    for (let b = 0; b < c.B; b++) {
      const expected = full.subarray(((b * c.T + c.T - 1) * c.H) * c.D, ((b * c.T + c.T) * c.H) * c.D);
      expectClose(one.toArray().subarray(b * c.H * c.D, (b + 1) * c.H * c.D), Float64Array.from(expected), { rtol: 1e-5, atol: 1e-6 });
    }
  });

  test('kvStart is checked on the host, head sizes above 256 are refused, devices do not mix', () => {
    const q = Tensor.zeros([2, 4, 4, 8], { device }), k = Tensor.zeros([2, 6, 2, 8], { device }), v = Tensor.zeros([2, 6, 2, 8], { device });
    const out = Tensor.zeros([2, 4, 4, 8], { device }), lse = Tensor.zeros([2, 4, 4], { device });
    expect(() => ops.attention({ out, lse, q, k, v, kvStart: Tensor.from(new Int32Array([0, 7]), [2], { device }) }, { kvLength: 5 }))
      .toThrow('Expected every kvStart in [0, 5] but received 7 at index 1');
    const wide = Tensor.zeros([1, 1, 1, 264], { device }), kw = Tensor.zeros([1, 1, 1, 264], { device });
    expect(() => ops.attention({ out: Tensor.zeros([1, 1, 1, 264], { device }), lse: Tensor.zeros([1, 1, 1], { device }), q: wide, k: kw, v: kw }))
      .toThrow('Expected a head size D <= 256 on cuda but received Tensor float32 [1, 1, 1, 264] on cuda');
    expect(() => ops.attention({ out, lse, q, k: Tensor.zeros([2, 6, 2, 8]), v })).toThrow(DeviceError);
  });

  // The D = 129..256 tiles need up to 141,952 B of shared memory per block; sm_86/sm_89 allow
  // 101,376 B. The simulator poses as another GPU with STEPRL_SIM_ARCH, read once per process, so
  // each architecture runs in a child process calling the simulator addon directly.
  (backendInfo().backend === 'cuda-sim' ? test : test.skip)('head sizes whose tiles exceed the GPU\'s shared memory are refused, naming the limit', () => {
    const script = `
      const b = require(${JSON.stringify(path.join(__dirname, '..', '..', 'build-cuda-sim', 'Release', 'steprl.node'))});
      const run = (D, backward) => {
        const B = 1, T = 3, H = 2, S = 3, n = B * T * H * D, f = () => b.toDevice(new Float32Array(n).fill(0.25));
        const q = f(), k = f(), v = f(), out = f(), lse = b.toDevice(new Float32Array(B * H * T));
        try {
          if (backward) b.attentionBackward(f(), f(), f(), f(), out, lse, q, k, v, null, B, T, H, H, D, S, S, 0.5);
          else b.attention(out, lse, q, k, v, null, B, T, H, H, D, S, S, 0.5);
          return 'ok';
        } catch (e) { return e.message; }
      };
      process.stdout.write(JSON.stringify([run(128, false), run(128, true), run(200, false), run(256, true)]));`;
    const results = (arch: string) =>
      JSON.parse(execFileSync(process.execPath, ['-e', script], { env: { ...process.env, STEPRL_SIM_ARCH: arch }, encoding: 'utf8' })) as string[];
    const [f128, b128, f200, b256] = results('sm_86');
    expect([f128, b128]).toEqual(['ok', 'ok']);
    expect(f200).toContain('Expected a head size D <= 128 for attention on this GPU, which allows 101376 bytes of shared memory per block');
    expect(f200).toContain('received D = 200');
    expect(b256).toContain('Expected a head size D <= 128 for attentionBackward');
    expect(b256).toContain('whose tiles need 141952 bytes');
    expect(results('sm_80')).toEqual(['ok', 'ok', 'ok', 'ok']);  // 163 KiB: every head size fits
  });
});

describeOn('cpu', 'attention behaviour', () => {
  const c: Case = { name: 'det', B: 3, T: 96, H: 4, KVH: 2, D: 32, S: 96, Smax: 96, padded: true };
  const { rng, q, k, v, kvStart } = makeInputs(c, 77);
  const qShape = [c.B, c.T, c.H, c.D], kShape = [c.B, c.Smax, c.KVH, c.D];
  const tensors = { q: Tensor.from(q, qShape), k: Tensor.from(k, kShape), v: Tensor.from(v, kShape), kvStart: Tensor.from(kvStart!, [c.B]) };
  const dout = Tensor.from(rng.floats(q.length), qShape);

  test('results do not depend on the thread count', () => {
    const run = () => {
      const out = Tensor.zeros(qShape), lse = Tensor.zeros([c.B, c.H, c.T]);
      ops.attention({ out, lse, ...tensors });
      const grads = { dq: Tensor.zeros(qShape), dk: Tensor.zeros(kShape), dv: Tensor.zeros(kShape) };
      ops.attentionBackward({ ...grads, dout, out, lse, ...tensors });
      return [out, lse, grads.dq, grads.dk, grads.dv].map((t) => Buffer.from(t.toArray().buffer));
    };
    setNumThreads(1);
    const one = run();
    setNumThreads(0);
    const all = run();
    one.forEach((b, i) => expect(Buffer.compare(b, all[i])).toBe(0));
  });

  test('decoding one token against the cache equals the last row of the full causal pass', () => {
    const full = Tensor.zeros(qShape), lse = Tensor.zeros([c.B, c.H, c.T]);
    ops.attention({ out: full, lse, ...tensors });
    const last = Tensor.from(q.slice(0), qShape).toArray();
    const qLast = new Float32Array(c.B * c.H * c.D);
    for (let b = 0; b < c.B; b++) qLast.set(last.subarray(((b * c.T + c.T - 1) * c.H) * c.D, ((b * c.T + c.T) * c.H) * c.D), b * c.H * c.D);
    const one = Tensor.zeros([c.B, 1, c.H, c.D]);
    ops.attention({ out: one, lse: Tensor.zeros([c.B, c.H, 1]), q: Tensor.from(qLast, [c.B, 1, c.H, c.D]), k: tensors.k, v: tensors.v, kvStart: tensors.kvStart });
    const fullArray = full.toArray();
    for (let b = 0; b < c.B; b++) {
      const expected = fullArray.subarray(((b * c.T + c.T - 1) * c.H) * c.D, ((b * c.T + c.T) * c.H) * c.D);
      expectClose(one.toArray().subarray(b * c.H * c.D, (b + 1) * c.H * c.D), Float64Array.from(expected), { rtol: 1e-5, atol: 1e-6 });
    }
  });
});

describeOn('cpu', 'attention errors', () => {
  const q = Tensor.zeros([2, 4, 4, 8]), k = Tensor.zeros([2, 6, 2, 8]), v = Tensor.zeros([2, 6, 2, 8]);
  const out = Tensor.zeros([2, 4, 4, 8]), lse = Tensor.zeros([2, 4, 4]);
  test('shapes, options, kvStart range and overlap', () => {
    expect(() => ops.attention({ out, lse, q: Tensor.zeros([2, 4, 32]), k, v })).toThrow('Expected a 4-d tensor [B, T, H, D] for q but received Tensor float32 [2, 4, 32] on cpu');
    expect(() => ops.attention({ out: Tensor.zeros([2, 4, 4, 0]), lse, q: Tensor.zeros([2, 4, 4, 0]), k, v })).toThrow('Expected q of shape [B, T, H, D] with H >= 1 and D >= 1');
    expect(() => ops.attention({ out, lse, q, k: Tensor.zeros([2, 6, 3, 8]), v })).toThrow('Expected k with a number of kv heads dividing H = 4');
    expect(() => ops.attention({ out, lse, q, k: Tensor.zeros([2, 6, 2, 4]), v })).toThrow('Expected k of shape [2, Smax, KVH, 8] (B and D of q)');
    expect(() => ops.attention({ out, lse, q, k, v: Tensor.zeros([2, 5, 2, 8]) })).toThrow('Expected shape [2, 6, 2, 8] (that of k) for v');
    expect(() => ops.attention({ out, lse: Tensor.zeros([2, 4]), q, k, v })).toThrow(ShapeError);
    expect(() => ops.attention({ out, lse, q, k, v }, { kvLength: 3 })).toThrow('Expected an integer between 4 and 6 for options.kvLength but received 3 of type number');
    expect(() => ops.attention({ out, lse, q, k, v, kvStart: Tensor.from(new Int32Array([0, 7]), [2]) }, { kvLength: 5 })).toThrow(ArgumentError);
    expect(() => ops.attention({ out, lse, q, k, v, kvStart: Tensor.from(new Int32Array([0, 7]), [2]) }, { kvLength: 5 })).toThrow('Expected every kvStart in [0, 5] but received 7 at index 1');
    expect(() => ops.attention({ out: q, lse, q, k, v })).toThrow('Expected out to share no memory with q but received overlapping tensors');
    expect(() => ops.attentionBackward({ dq: Tensor.zeros([2, 4, 4, 8]), dk: k, dv: Tensor.zeros([2, 6, 2, 8]), dout: out, out, lse, q, k, v })).toThrow('Expected dk to share no memory with k');
  });
});
