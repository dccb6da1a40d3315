// linear_token_logprobs.test.ts: the fused output projection + token log-probs against the float64
// reference, on every device (the cpu at every SIMD level, cuda where the backend has it): shapes
// that cut the vocabulary into uneven chunks and the rows into several blocks, temperatures,
// entropy and its gradient, masked tokens, gathered rows, bfloat16 inputs; chunk-size independence, bit-identical
// results across thread counts, async forms, agreement with tokenLogprobs on materialized logits,
// and errors. (PyTorch autograd checks the same op in test/torch/.)
import {
  ArgumentError, DeviceError, ShapeError, DTypeError, Tensor, fromBFloat16, ops, setNumThreads, toBFloat16, type Device,
} from '../../lib';
import {
  linearTokenLogprobsBackwardReference, linearTokenLogprobsReference,
} from '../reference/linear_token_logprobs';
import { expectClose } from '../util/close';
import { describeOn, describeTargets, hasCuda, onTarget, type Target } from '../util/devices';
import { Rng } from '../util/random';

const TOL = { rtol: 2e-5, atol: 1e-7 };

interface Case {
  N: number;
  C: number;
  V: number;
  chunk: number;
  temperature: number;
  /** M > N: hidden has extra rows and tokens read a scattered subset (options.rows). */
  M?: number;
}

const CASES: Case[] = [
  { N: 1, C: 1, V: 1, chunk: 1, temperature: 1 },
  { N: 3, C: 5, V: 7, chunk: 3, temperature: 1 },
  { N: 9, C: 16, V: 37, chunk: 8, temperature: 0.7 },
  { N: 17, C: 33, V: 300, chunk: 64, temperature: 1.3 },
  { N: 5, C: 8, V: 129, chunk: 4096, temperature: 1 },
  { N: 12, C: 20, V: 50, chunk: 16, temperature: 1, M: 30 },
  { N: 1030, C: 4, V: 21, chunk: 10, temperature: 1 },  // more than one 1024-row block
];

interface Data {
  hidden: Float32Array;
  weight: Float32Array;
  targets: Int32Array;
  rows?: Int32Array;
  M: number;
}

function makeData(c: Case, seed: number): Data {
  const rng = new Rng(seed);
  const M = c.M ?? c.N;
  const hidden = rng.floats(M * c.C, 1);
  const weight = rng.floats(c.V * c.C, 2 / Math.sqrt(c.C));
  // A few large logits (a peaked distribution whose max sits in a late chunk).
  for (let c2 = 0; c2 < c.C; c2++) weight[(c.V - 1) * c.C + c2] *= 3;
  const targets = rng.ints(c.N, 0, c.V);
  let rows: Int32Array | undefined;
  if (c.M !== undefined) {
    const perm = Array.from({ length: M }, (_, i) => i);
    for (let i = M - 1; i > 0; i--) {
      const j = rng.int(0, i + 1);
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    rows = Int32Array.from(perm.slice(0, c.N));
  }
  return { hidden, weight, targets, rows, M };
}

function tensors(d: Data, c: Case, device: Device) {
  return {
    hidden: Tensor.from(d.hidden, [d.M, c.C], { device }),
    weight: Tensor.from(d.weight, [c.V, c.C], { device }),
    targets: Tensor.from(d.targets, [c.N], { device }),
    rows: d.rows ? Tensor.from(d.rows, [c.N], { device }) : undefined,
  };
}

const label = (c: Case) => `N=${c.N} C=${c.C} V=${c.V} chunk=${c.chunk} tau=${c.temperature}${c.M ? ` M=${c.M}` : ''}`;

describeTargets('linearTokenLogprobs', (target: Target) => {
  const device = target.device;
  test.each(CASES.map((c) => [label(c), c] as const))('forward matches float64: %s', (_name, c) => {
    onTarget(target, () => {
      const d = makeData(c, c.N * 7 + c.V);
      const t = tensors(d, c, device);
      const out = ops.linearTokenLogprobs(t.hidden, t.weight, t.targets,
        { temperature: c.temperature, entropy: true, chunkSize: c.chunk, rows: t.rows });
      expect(out.logprobs.device).toBe(device);
      expect(out.logprobs.shape).toEqual([c.N]);
      const ref = linearTokenLogprobsReference({ ...d, N: c.N, C: c.C, V: c.V, temperature: c.temperature });
      expectClose(out.logprobs.toArray() as Float32Array, ref.logprobs, { ...TOL, scale: ref.logprobsScale });
      expectClose(out.logZ.toArray() as Float32Array, ref.logZ, { ...TOL, scale: ref.logprobsScale });
      expectClose(out.entropy!.toArray() as Float32Array, ref.entropy, { ...TOL, scale: ref.entropyScale });
    });
  });

  test.each(CASES.map((c) => [label(c), c] as const))('backward matches float64: %s', (_name, c) => {
    onTarget(target, () => {
      const d = makeData(c, c.N * 11 + c.V);
      const t = tensors(d, c, device);
      const rng = new Rng(c.C);
      const g = rng.floats(c.N, 1), gh = rng.floats(c.N, 0.5);
      if (c.N > 2) g[1] = gh[1] = 0;  // a masked token: no gradient at all
      const opts = { temperature: c.temperature, chunkSize: c.chunk, rows: t.rows };
      const fwd = ops.linearTokenLogprobs(t.hidden, t.weight, t.targets, { ...opts, entropy: true });
      // dweight starts non-zero: the op accumulates into it; dhidden is a fresh tensor.
      const w0 = rng.floats(c.V * c.C, 1);
      const dweight = Tensor.from(w0.slice(), [c.V, c.C], { device });  // (Tensor.from may share the array)
      const dhidden = ops.linearTokenLogprobsBackward(t.hidden, t.weight, t.targets, fwd.logZ,
        Tensor.from(g, [c.N], { device }),
        { ...opts, entropy: fwd.entropy, dentropy: Tensor.from(gh, [c.N], { device }), dweight });
      expect(dhidden.shape).toEqual([d.M, c.C]);
      expect(dhidden.device).toBe(device);
      const ref = linearTokenLogprobsBackwardReference({ ...d, N: c.N, C: c.C, V: c.V, temperature: c.temperature }, g, gh);
      expectClose(dhidden.toArray() as Float32Array, ref.dhidden, { ...TOL, scale: ref.dhiddenScale });
      const expectedW = ref.dweight.map((x, i) => x + w0[i]);
      const scaleW = ref.dweightScale.map((x, i) => x + Math.abs(w0[i]));
      expectClose(dweight.toArray() as Float32Array, expectedW, { ...TOL, scale: scaleW });
    });
  });

  test('without entropy, the backward needs only logZ; dhidden accumulates into a given tensor', () => {
    onTarget(target, () => {
      const c: Case = { N: 6, C: 12, V: 45, chunk: 7, temperature: 1, M: 10 };
      const d = makeData(c, 5);
      const t = tensors(d, c, device);
      const g = new Rng(9).floats(c.N, 1);
      const fwd = ops.linearTokenLogprobs(t.hidden, t.weight, t.targets, { chunkSize: c.chunk, rows: t.rows });
      expect(fwd.entropy).toBeUndefined();
      const start = new Rng(3).floats(d.M * c.C, 1);
      const dhidden = Tensor.from(start.slice(), [d.M, c.C], { device });
      const back = ops.linearTokenLogprobsBackward(t.hidden, t.weight, t.targets, fwd.logZ, Tensor.from(g, [c.N], { device }),
        { chunkSize: c.chunk, rows: t.rows, dhidden });
      expect(back).toBe(dhidden);
      const ref = linearTokenLogprobsBackwardReference({ ...d, N: c.N, C: c.C, V: c.V }, g, null);
      expectClose(dhidden.toArray() as Float32Array, ref.dhidden.map((x, i) => x + start[i]),
        { ...TOL, scale: ref.dhiddenScale.map((x, i) => x + Math.abs(start[i])) });
    });
  });

  test('bfloat16 hidden states and weights: the float64 reference on their values', () => {
    onTarget(target, () => {
      const c: Case = { N: 7, C: 24, V: 150, chunk: 32, temperature: 0.9, M: 11 };
      const d = makeData(c, 31);
      const hb = toBFloat16(d.hidden), wb = toBFloat16(d.weight);
      const values = { ...d, hidden: fromBFloat16(hb), weight: fromBFloat16(wb), N: c.N, C: c.C, V: c.V, temperature: c.temperature };
      const rows = Tensor.from(d.rows!, [c.N], { device });
      const targets = Tensor.from(d.targets, [c.N], { device });
      const g = new Rng(4).floats(c.N, 1);
      for (const [hDtype, wDtype] of [['bfloat16', 'bfloat16'], ['float32', 'bfloat16'], ['bfloat16', 'float32']] as const) {
        const hidden = hDtype === 'bfloat16' ? Tensor.from(hb, [d.M, c.C], { dtype: 'bfloat16', device }) : Tensor.from(values.hidden, [d.M, c.C], { device });
        const weight = wDtype === 'bfloat16' ? Tensor.from(wb, [c.V, c.C], { dtype: 'bfloat16', device }) : Tensor.from(values.weight, [c.V, c.C], { device });
        const opts = { chunkSize: c.chunk, temperature: c.temperature, rows };
        const out = ops.linearTokenLogprobs(hidden, weight, targets, { ...opts, entropy: true });
        const ref = linearTokenLogprobsReference(values);
        expectClose(out.logprobs.toArray() as Float32Array, ref.logprobs, { ...TOL, scale: ref.logprobsScale });
        expectClose(out.entropy!.toArray() as Float32Array, ref.entropy, { ...TOL, scale: ref.entropyScale });
        const dweight = Tensor.zeros([c.V, c.C], { device });
        const dhidden = ops.linearTokenLogprobsBackward(hidden, weight, targets, out.logZ, Tensor.from(g, [c.N], { device }), { ...opts, dweight });
        const back = linearTokenLogprobsBackwardReference({ ...values, M: d.M }, g, null);
        expectClose(dhidden.toArray() as Float32Array, back.dhidden, { ...TOL, scale: back.dhiddenScale });
        expectClose(dweight.toArray() as Float32Array, back.dweight, { ...TOL, scale: back.dweightScale });
      }
    });
  });

  test('independent of the chunk size up to float32 rounding', () => {
    onTarget(target, () => {
      const c: Case = { N: 8, C: 24, V: 203, chunk: 1, temperature: 0.9 };
      const d = makeData(c, 77);
      const t = tensors(d, c, device);
      const g = Tensor.from(new Rng(1).floats(c.N, 1), [c.N], { device });
      const run = (chunkSize: number) => {
        const f = ops.linearTokenLogprobs(t.hidden, t.weight, t.targets, { chunkSize, entropy: true, temperature: 0.9 });
        const dweight = Tensor.zeros([c.V, c.C], { device });
        const dh = ops.linearTokenLogprobsBackward(t.hidden, t.weight, t.targets, f.logZ, g, { chunkSize, temperature: 0.9, dweight });
        return [f.logprobs, f.entropy!, dh, dweight].map((x) => x.toArray() as Float32Array);
      };
      const whole = run(c.V);
      for (const chunkSize of [1, 13, 64, 202]) {
        const other = run(chunkSize);
        for (let k = 0; k < whole.length; k++) expectClose(other[k], whole[k], { rtol: 2e-5, atol: 2e-6 });
      }
    });
  });

  test('matches tokenLogprobs on materialized logits', () => {
    onTarget(target, () => {
      const c: Case = { N: 10, C: 32, V: 1000, chunk: 256, temperature: 1 };
      const d = makeData(c, 8);
      const t = tensors(d, c, device);
      const logits = Tensor.zeros([c.N, c.V], { device });
      ops.matmul({ out: logits, inp: t.hidden, weight: t.weight });
      const plain = ops.tokenLogprobs(logits, t.targets, { entropy: true });
      const fused = ops.linearTokenLogprobs(t.hidden, t.weight, t.targets, { entropy: true, chunkSize: c.chunk });
      expectClose(fused.logprobs.toArray() as Float32Array, plain.logprobs.toArray() as Float32Array, { rtol: 1e-5, atol: 1e-5 });
      expectClose(fused.entropy!.toArray() as Float32Array, plain.entropy!.toArray() as Float32Array, { rtol: 1e-5, atol: 1e-5 });
    });
  });

  test('async forms give the same bits as the sync ones', async () => {
    const c: Case = { N: 20, C: 16, V: 99, chunk: 32, temperature: 1, M: 25 };
    const d = makeData(c, 4);
    const t = tensors(d, c, device);
    const g = Tensor.from(new Rng(2).floats(c.N, 1), [c.N], { device });
    const opts = { chunkSize: c.chunk, rows: t.rows };
    const sync = ops.linearTokenLogprobs(t.hidden, t.weight, t.targets, { ...opts, entropy: true });
    const async = await ops.linearTokenLogprobsAsync(t.hidden, t.weight, t.targets, { ...opts, entropy: true });
    expect(async.logprobs.toArray()).toEqual(sync.logprobs.toArray());
    expect(async.entropy!.toArray()).toEqual(sync.entropy!.toArray());
    const dw1 = Tensor.zeros([c.V, c.C], { device }), dw2 = Tensor.zeros([c.V, c.C], { device });
    const dh1 = ops.linearTokenLogprobsBackward(t.hidden, t.weight, t.targets, sync.logZ, g, { ...opts, dweight: dw1 });
    const dh2 = await ops.linearTokenLogprobsBackwardAsync(t.hidden, t.weight, t.targets, sync.logZ, g, { ...opts, dweight: dw2 });
    expect(dh2.toArray()).toEqual(dh1.toArray());
    expect(dw2.toArray()).toEqual(dw1.toArray());
  });

  test('bad input throws typed errors naming the argument', () => {
    const h = Tensor.zeros([3, 4], { device }), w = Tensor.zeros([5, 4], { device });
    const tg = Tensor.from(new Int32Array([0, 1, 2]), [3], { device });
    const z = Tensor.zeros([3], { device });
    expect(() => ops.linearTokenLogprobs(h, w, Tensor.from(new Int32Array([0, 5, 1]), [3], { device })))
      .toThrow('Expected every target in [0, 5) but received 5 at index 1');
    expect(() => ops.linearTokenLogprobs(h, Tensor.zeros([5, 3], { device }), tg)).toThrow(ShapeError);
    expect(() => ops.linearTokenLogprobs(h, w, Tensor.from(new Int32Array([0, 1]), [2], { device }))).toThrow(ShapeError);
    expect(() => ops.linearTokenLogprobs(h, w, Tensor.zeros([3], { device }))).toThrow(DTypeError);
    expect(() => ops.linearTokenLogprobs(Tensor.zeros([3, 4], { dtype: 'int32', device }), w, tg)).toThrow(DTypeError);
    expect(() => ops.linearTokenLogprobsBackward(h, w, tg, z, z, { dweight: Tensor.zeros([5, 4], { dtype: 'bfloat16', device }) })).toThrow(DTypeError);
    expect(() => ops.linearTokenLogprobs(h, w, tg, { chunkSize: 0 })).toThrow(ArgumentError);
    expect(() => ops.linearTokenLogprobs(h, w, tg, { chunkSize: 1.5 })).toThrow('options.chunkSize');
    expect(() => ops.linearTokenLogprobs(h, w, tg, { temperature: 0 })).toThrow(ArgumentError);
    expect(() => ops.linearTokenLogprobs(h, w, tg, { bogus: 1 } as never)).toThrow(ArgumentError);
    const dup = Tensor.from(new Int32Array([0, 2, 0]), [3], { device });
    expect(() => ops.linearTokenLogprobs(h, w, tg, { rows: dup })).toThrow('Expected distinct rows but received row 0 twice');
    const far = Tensor.from(new Int32Array([0, 3, 1]), [3], { device });
    expect(() => ops.linearTokenLogprobs(h, w, tg, { rows: far })).toThrow('Expected every row in [0, 3) but received 3 at index 1');
    expect(() => ops.linearTokenLogprobsBackward(h, w, tg, z, z, { dentropy: z })).toThrow('options.entropy');
    expect(() => ops.linearTokenLogprobsBackward(h, w, tg, z, z, { dweight: Tensor.zeros([4, 4], { device }) })).toThrow(ShapeError);
    expect(() => ops.linearTokenLogprobsBackward(h, w, tg, z, z, { dhidden: h })).toThrow('dhidden');
  });
});

describeOn('cpu', 'linearTokenLogprobs behaviour', () => {
  test('bit-identical for any thread count and run to run', () => {
    const c: Case = { N: 300, C: 64, V: 2100, chunk: 512, temperature: 1 };
    const d = makeData(c, 99);
    const t = tensors(d, c, 'cpu');
    const g = Tensor.from(new Rng(5).floats(c.N, 1), [c.N]);
    const run = () => {
      const f = ops.linearTokenLogprobs(t.hidden, t.weight, t.targets, { chunkSize: c.chunk, entropy: true });
      const dweight = Tensor.zeros([c.V, c.C]);
      const dh = ops.linearTokenLogprobsBackward(t.hidden, t.weight, t.targets, f.logZ, g, { chunkSize: c.chunk, dweight });
      return [f.logprobs, f.logZ, f.entropy!, dh, dweight].map((x) => Array.from(x.toArray() as Float32Array));
    };
    try {
      setNumThreads(1);
      const one = run();
      setNumThreads(2);
      const two = run();
      setNumThreads(3);
      const three = run();
      expect(two).toEqual(one);
      expect(three).toEqual(one);
      expect(run()).toEqual(three);
    } finally {
      setNumThreads(0);
    }
  });
});

describeOn('cuda', 'linearTokenLogprobs across devices', () => {
  test('mixing devices throws a DeviceError', () => {
    if (!hasCuda()) return;
    const h = Tensor.zeros([2, 3]), w = Tensor.zeros([4, 3], { device: 'cuda' });
    expect(() => ops.linearTokenLogprobs(h, w, Tensor.from(new Int32Array([0, 1]), [2]))).toThrow(DeviceError);
  });
});
