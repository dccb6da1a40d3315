// rmsnorm.test.ts: rmsnorm / rmsnormBackward against the float64 reference on every device (the
// cpu at every SIMD level; cuda on its 16-byte and scalar paths), tiny, model-sized and odd widths,
// in place, gradients accumulated into non-zero buffers with an upstream gradient other than 1,
// more rows than one dweight chunk, determinism of the dweight reduction (thread counts on the
// cpu, repeated runs on cuda), and errors.
import { ArgumentError, DeviceError, DTypeError, ShapeError, Tensor, ops, setNumThreads } from '../../lib';
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
  });
});
