// rmsnorm.test.ts: rmsnorm / rmsnormBackward against the float64 reference on every device (the
// cpu at every SIMD level; cuda on its 16-byte and scalar paths), tiny, model-sized and odd widths,
// in place, gradients accumulated into non-zero buffers with an upstream gradient other than 1,
// more rows than one dweight chunk, determinism of the dweight reduction (thread counts on the
// cpu, repeated runs on cuda), and errors. The cuda-only bfloat16 outputs (out bf16, or outBf16 next
// to a float32 out): within half a bf16 ulp of float64, and bit for bit the float32 output followed
// by the cast reference, on the 16-byte and unaligned paths; on the cpu they are a DeviceError.
import { ArgumentError, DeviceError, DTypeError, ShapeError, Tensor, ops, setNumThreads } from '../../lib';
import { castToBf16Reference } from '../reference/cast';
import { rmsnormBackwardReference, rmsnormReference } from '../reference/rmsnorm';
import { expectClose } from '../util/close';
import { describeOn, describeTargets, onTarget } from '../util/devices';
import { Rng } from '../util/random';

const TOL = { rtol: 2e-5, atol: 1e-7 };
const SHAPES = [
  { N: 1, C: 1, eps: 1e-6 },
  { N: 3, C: 7, eps: 1e-5 },
  { N: 65, C: 256, eps: 1e-6 },
  { N: 130, C: 33, eps: 1e-6 },
  { N: 17, C: 1001, eps: 0 },
  { N: 600, C: 12, eps: 1e-6 },  // more rows than one 256-row dweight chunk (cuda's two-pass sum)
];
const plus = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (x, i) => x + b[i]);

describeTargets('rmsnorm', (target) => {
  const device = target.device;
  test.each(SHAPES)('forward matches float64: N=$N C=$C eps=$eps', ({ N, C, eps }) => {
    onTarget(target, () => {
      const rng = new Rng(N * 17 + C);
      const x = rng.floats(N * C, 3), w = rng.floats(C);
      const out = Tensor.zeros([N, C], { device }), rstd = Tensor.zeros([N], { device });
      const returned = ops.rmsnorm({ out, rstd, inp: Tensor.from(x, [N, C], { device }), weight: Tensor.from(w, [C], { device }) }, { eps });
      expect(returned).toBe(out);
      const ref = rmsnormReference(x, w, N, C, eps);
      expectClose(out.toArray(), ref.out, TOL);
      expectClose(rstd.toArray(), ref.rstd, TOL);
      // In place: out is inp itself.
      const inplace = Tensor.from(x.slice(), [N, C], { device });
      ops.rmsnorm({ out: inplace, rstd: Tensor.zeros([N], { device }), inp: inplace, weight: Tensor.from(w, [C], { device }) }, { eps });
      expectClose(inplace.toArray(), ref.out, TOL);
    });
  });

  test.each(SHAPES)('backward accumulates: N=$N C=$C', ({ N, C, eps }) => {
    onTarget(target, () => {
      const rng = new Rng(N + C * 5);
      const x = rng.floats(N * C, 2), w = rng.floats(C), g = rng.floats(N * C, 1.3);
      const d0 = rng.floats(N * C), dw0 = rng.floats(C);
      const inp = Tensor.from(x, [N, C], { device }), weight = Tensor.from(w, [C], { device }), rstd = Tensor.zeros([N], { device });
      ops.rmsnorm({ out: Tensor.zeros([N, C], { device }), rstd, inp, weight }, { eps });
      const dinp = Tensor.from(d0.slice(), [N, C], { device }), dweight = Tensor.from(dw0.slice(), [C], { device });
      ops.rmsnormBackward({ dinp, dweight, dout: Tensor.from(g, [N, C], { device }), inp, weight, rstd });
      const ref = rmsnormBackwardReference(g, x, w, N, C, eps);
      expectClose(dinp.toArray(), plus(ref.dinp, d0), { ...TOL, scale: plus(ref.dinpScale, d0.map(Math.abs)) });
      expectClose(dweight.toArray(), plus(ref.dweight, dw0), { ...TOL, scale: plus(ref.dweightScale, dw0.map(Math.abs)) });
    });
  });

  test('views at unaligned offsets (the element-wise path)', () => {
    onTarget(target, () => {
      const rng = new Rng(21), N = 9, C = 16;
      const x = rng.floats(N * C), w = rng.floats(C), g = rng.floats(N * C);
      const arena = Tensor.zeros([3 + 3 * N * C + N], { device });
      const inp = arena.view(1, [N, C]).copyFrom(Tensor.from(x, [N, C], { device }));
      const out = arena.view(1 + N * C, [N, C]), rstd = arena.view(2 + 2 * N * C, [N]);
      ops.rmsnorm({ out, rstd, inp, weight: Tensor.from(w, [C], { device }) });
      const ref = rmsnormReference(x, w, N, C, 1e-6);
      expectClose(out.toArray(), ref.out, TOL);
      const dinp = arena.view(3 + 2 * N * C + N, [N, C]).fill(0), dweight = Tensor.zeros([C], { device });
      ops.rmsnormBackward({ dinp, dweight, dout: Tensor.from(g, [N, C], { device }), inp, weight: Tensor.from(w, [C], { device }), rstd });
      const dref = rmsnormBackwardReference(g, x, w, N, C, 1e-6);
      expectClose(dinp.toArray(), dref.dinp, { ...TOL, scale: dref.dinpScale });
      expectClose(dweight.toArray(), dref.dweight, { ...TOL, scale: dref.dweightScale });
    });
  });
});

describeOn('cuda', 'rmsnorm on cuda', () => {
  test('the same bits on repeated runs (the dweight reduction included)', () => {
    const N = 700, C = 96, rng = new Rng(8), device = 'cuda' as const;
    const inp = Tensor.from(rng.floats(N * C), [N, C], { device }), weight = Tensor.from(rng.floats(C), [C], { device });
    const dout = Tensor.from(rng.floats(N * C), [N, C], { device }), rstd = Tensor.zeros([N], { device });
    ops.rmsnorm({ out: Tensor.zeros([N, C], { device }), rstd, inp, weight });
    const run = () => {
      const dinp = Tensor.zeros([N, C], { device }), dweight = Tensor.zeros([C], { device });
      ops.rmsnormBackward({ dinp, dweight, dout, inp, weight, rstd });
      return [dinp, dweight].map((t) => Buffer.from(t.toArray().buffer));
    };
    const first = run(), second = run();
    first.forEach((b, i) => expect(Buffer.compare(b, second[i])).toBe(0));
  });

  test('mixing devices is a DeviceError', () => {
    const inp = Tensor.zeros([4, 3], { device: 'cuda' });
    expect(() => ops.rmsnorm({ out: Tensor.zeros([4, 3], { device: 'cuda' }), rstd: Tensor.zeros([4], { device: 'cuda' }), inp, weight: Tensor.zeros([3]) }))
      .toThrow(DeviceError);
  });
});

/** The bf16 bits a float32 tensor rounds to (test/reference/cast.ts). */
const bf16Of = (t: Tensor) => Array.from(castToBf16Reference(new Uint32Array((t.toArray() as Float32Array).buffer)));
const bitsOf = (t: Tensor) => Array.from(t.toArray() as Uint16Array);
// A bf16 output against float64: half a bf16 ulp (<= 2^-8 relative) plus the float32 tolerance.
const BF16_TOL = { rtol: 2 ** -8 + TOL.rtol, atol: TOL.atol };

describeOn('cuda', 'rmsnorm with bfloat16 outputs on cuda', () => {
  const device = 'cuda' as const;
  test.each([
    { N: 1, C: 1 }, { N: 3, C: 7 }, { N: 5, C: 8 }, { N: 65, C: 256 }, { N: 17, C: 1001 },
  ])('bf16 out, and a bf16 copy next to float32 out: N=$N C=$C', ({ N, C }) => {
    const rng = new Rng(N * 31 + C);
    const x = rng.floats(N * C, 3), w = rng.floats(C);
    const inp = Tensor.from(x, [N, C], { device }), weight = Tensor.from(w, [C], { device });
    const ref = rmsnormReference(x, w, N, C, 1e-6);
    const f32 = Tensor.zeros([N, C], { device }), rstd32 = Tensor.zeros([N], { device });
    ops.rmsnorm({ out: f32, rstd: rstd32, inp, weight });
    // bf16 only.
    const b = Tensor.zeros([N, C], { device, dtype: 'bfloat16' }), rstd = Tensor.zeros([N], { device });
    expect(ops.rmsnorm({ out: b, rstd, inp, weight })).toBe(b);
    expectClose(b.toFloat32(), ref.out, BF16_TOL);
    expect(bitsOf(b)).toEqual(bf16Of(f32));
    expect(Array.from(rstd.toArray())).toEqual(Array.from(rstd32.toArray()));
    // Both outputs in one pass: the float32 one has the bits of the plain op.
    const both = Tensor.zeros([N, C], { device }), copy = Tensor.zeros([N, C], { device, dtype: 'bfloat16' });
    expect(ops.rmsnorm({ out: both, outBf16: copy, rstd: Tensor.zeros([N], { device }), inp, weight })).toBe(both);
    expect(Array.from(both.toArray())).toEqual(Array.from(f32.toArray()));
    expect(bitsOf(copy)).toEqual(bf16Of(f32));
    // In place, with the copy.
    const inplace = Tensor.from(x.slice(), [N, C], { device }), copy2 = Tensor.zeros([N, C], { device, dtype: 'bfloat16' });
    ops.rmsnorm({ out: inplace, outBf16: copy2, rstd: Tensor.zeros([N], { device }), inp: inplace, weight });
    expect(Array.from(inplace.toArray())).toEqual(Array.from(f32.toArray()));
    expect(bitsOf(copy2)).toEqual(bf16Of(f32));
  });

  test('unaligned bf16 views take the element-wise path with the bits of its float32 output', () => {
    // (The element-wise path sums x² in another order than the 16-byte path, so it is compared with
    // the float32 op on the element-wise path: an unaligned float32 out.)
    const rng = new Rng(44), N = 6, C = 16;
    const x = rng.floats(N * C, 2), w = rng.floats(C);
    const inp = Tensor.from(x, [N, C], { device }), weight = Tensor.from(w, [C], { device });
    const f32 = Tensor.zeros([1 + N * C], { device }).view(1, [N, C]);
    ops.rmsnorm({ out: f32, rstd: Tensor.zeros([N], { device }), inp, weight });
    const arena = Tensor.zeros([3 + 2 * N * C], { device, dtype: 'bfloat16' });
    const b = arena.view(1, [N, C]), copy = arena.view(3 + N * C, [N, C]);
    ops.rmsnorm({ out: b, rstd: Tensor.zeros([N], { device }), inp, weight });
    expect(bitsOf(b)).toEqual(bf16Of(f32));
    const out32 = Tensor.zeros([1 + N * C], { device }).view(1, [N, C]);
    ops.rmsnorm({ out: out32, outBf16: copy, rstd: Tensor.zeros([N], { device }), inp, weight });
    expect(Array.from(out32.toArray())).toEqual(Array.from(f32.toArray()));
    expect(bitsOf(copy)).toEqual(bf16Of(f32));
    expectClose(copy.toFloat32(), rmsnormReference(x, w, N, C, 1e-6).out, BF16_TOL);
    // An aligned float32 out with an unaligned copy: the whole call takes the element-wise path.
    const aligned = Tensor.zeros([N, C], { device });
    ops.rmsnorm({ out: aligned, outBf16: b, rstd: Tensor.zeros([N], { device }), inp, weight });
    expect(Array.from(aligned.toArray())).toEqual(Array.from(f32.toArray()));
  });

  test('errors: cpu tensors, dtypes, sizes', () => {
    const bf = (shape: number[], on: 'cpu' | 'cuda' = device) => Tensor.zeros(shape, { device: on, dtype: 'bfloat16' });
    const args = (on: 'cpu' | 'cuda') => ({ rstd: Tensor.zeros([4], { device: on }), inp: Tensor.zeros([4, 3], { device: on }), weight: Tensor.zeros([3], { device: on }) });
    expect(() => ops.rmsnorm({ out: bf([4, 3], 'cpu'), ...args('cpu') })).toThrow(DeviceError);
    expect(() => ops.rmsnorm({ out: bf([4, 3], 'cpu'), ...args('cpu') })).toThrow('Expected out (bfloat16) on cuda (rmsnorm writes a bfloat16 output on cuda only');
    expect(() => ops.rmsnorm({ out: Tensor.zeros([4, 3]), outBf16: bf([4, 3], 'cpu'), ...args('cpu') })).toThrow('Expected outBf16 (bfloat16) on cuda');
    expect(() => ops.rmsnorm({ out: Tensor.zeros([4, 3], { device }), outBf16: bf([4, 3], 'cpu'), ...args('cuda') })).toThrow(DeviceError);
    expect(() => ops.rmsnorm({ out: bf([4, 3]), outBf16: bf([4, 3]), ...args('cuda') })).toThrow(DTypeError);
    expect(() => ops.rmsnorm({ out: bf([4, 3]), outBf16: bf([4, 3]), ...args('cuda') })).toThrow('Expected out of dtype float32 when outBf16 is given');
    expect(() => ops.rmsnorm({ out: Tensor.zeros([4, 3], { device }), outBf16: Tensor.zeros([4, 3], { device }), ...args('cuda') })).toThrow(DTypeError);
    expect(() => ops.rmsnorm({ out: Tensor.zeros([4, 3], { device }), outBf16: bf([4, 4]), ...args('cuda') })).toThrow(ShapeError);
    expect(() => ops.rmsnorm({ out: bf([4, 2]), ...args('cuda') })).toThrow('Expected 12 elements ([4, 3]) for out but received Tensor bfloat16 [4, 2] on cuda');
    expect(() => ops.rmsnorm({ out: Tensor.zeros([4, 3], { device, dtype: 'int32' }), ...args('cuda') })).toThrow(DTypeError);
  });
});

describeOn('cpu', 'rmsnorm behaviour', () => {
  test('dweight (a reduction over rows) does not depend on the thread count', () => {
    const N = 1000, C = 96, rng = new Rng(8);
    const inp = Tensor.from(rng.floats(N * C), [N, C]), weight = Tensor.from(rng.floats(C), [C]);
    const dout = Tensor.from(rng.floats(N * C), [N, C]), rstd = Tensor.zeros([N]);
    ops.rmsnorm({ out: Tensor.zeros([N, C]), rstd, inp, weight });
    const run = () => {
      const dinp = Tensor.zeros([N, C]), dweight = Tensor.zeros([C]);
      ops.rmsnormBackward({ dinp, dweight, dout, inp, weight, rstd });
      return [dinp, dweight].map((t) => Buffer.from(t.toArray().buffer));
    };
    setNumThreads(1);
    const one = run();
    setNumThreads(0);
    const all = run();
    one.forEach((b, i) => expect(Buffer.compare(b, all[i])).toBe(0));
  });

  test('eps defaults to 1e-6 and a zero row gives zeros', () => {
    const out = Tensor.zeros([2, 2]), rstd = Tensor.zeros([2]);
    ops.rmsnorm({ out, rstd, inp: Tensor.from([0, 0, 3, 4], [2, 2]), weight: Tensor.from([1, 2], [2]) });
    expect(rstd.toArray()[0]).toBeCloseTo(1000, 1);
    expect(Array.from(out.toArray()).slice(0, 2)).toEqual([0, 0]);
  });
});

describeOn('cpu', 'rmsnorm errors', () => {
  const inp = Tensor.zeros([4, 3]), weight = Tensor.zeros([3]);
  test('shapes, dtypes, options and overlap', () => {
    expect(() => ops.rmsnorm({ out: Tensor.zeros([4, 3]), rstd: Tensor.zeros([3]), inp, weight })).toThrow(ShapeError);
    expect(() => ops.rmsnorm({ out: Tensor.zeros([4, 3]), rstd: Tensor.zeros([3]), inp, weight })).toThrow('Expected 4 elements ([4]) for rstd but received Tensor float32 [3] on cpu');
    expect(() => ops.rmsnorm({ out: Tensor.zeros([4, 3]), rstd: Tensor.zeros([4]), inp: Tensor.zeros([4, 4]), weight })).toThrow('Expected inp of shape [N, 3]');
    expect(() => ops.rmsnorm({ out: Tensor.zeros([4, 3]), rstd: Tensor.zeros([4]), inp, weight: Tensor.zeros([3], { dtype: 'int32' }) })).toThrow(DTypeError);
    expect(() => ops.rmsnorm({ out: Tensor.zeros([4, 0]), rstd: Tensor.zeros([4]), inp: Tensor.zeros([4, 0]), weight: Tensor.zeros([0]) })).toThrow('Expected a weight of C >= 1 elements');
    expect(() => ops.rmsnorm({ out: Tensor.zeros([4, 3]), rstd: Tensor.zeros([4]), inp, weight }, { eps: -1 })).toThrow('Expected a finite number >= 0 for options.eps but received -1 of type number');
    expect(() => ops.rmsnorm({ out: Tensor.zeros([4, 3]), rstd: Tensor.zeros([4]), inp, weight }, { epsilon: 1 } as never)).toThrow('unknown option "epsilon"');
    const arena = Tensor.zeros([40]);
    expect(() => ops.rmsnorm({ out: arena.view(1, [4, 3]), rstd: Tensor.zeros([4]), inp: arena.view(0, [4, 3]), weight })).toThrow(ArgumentError);
    expect(() => ops.rmsnorm({ out: arena.view(1, [4, 3]), rstd: Tensor.zeros([4]), inp: arena.view(0, [4, 3]), weight })).toThrow('Expected out to be inp itself or to share no memory with it');
    expect(() => ops.rmsnormBackward({ dinp: Tensor.zeros([4, 3]), dweight: Tensor.zeros([3]), dout: Tensor.zeros([4, 3]), inp, weight } as never)).toThrow('Expected a Tensor for rstd but received undefined');
    // bfloat16 outputs are cuda-only.
    expect(() => ops.rmsnorm({ out: Tensor.zeros([4, 3], { dtype: 'bfloat16' }), rstd: Tensor.zeros([4]), inp, weight })).toThrow(DeviceError);
    expect(() => ops.rmsnorm({ out: Tensor.zeros([4, 3]), outBf16: Tensor.zeros([4, 3], { dtype: 'bfloat16' }), rstd: Tensor.zeros([4]), inp, weight })).toThrow(DeviceError);
  });
});
