// matmul.test.ts: matmul / matmulBackward against the float64 reference on every SIMD level (the
// sgemm micro-kernels), tiny, model-sized and odd shapes, with and without bias and residual
// (residual = out accumulates), gradients accumulated into non-zero buffers, thread-count
// determinism, views of one buffer, and the error paths.
import { ArgumentError, DTypeError, ShapeError, Tensor, ops, setNumThreads } from '../../lib';
import { matmulBackwardReference, matmulReference } from '../reference/matmul';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { simdLevels, withSimd } from '../util/simd';

const TOL = { rtol: 2e-5, atol: 1e-6 };
const SHAPES = [
  { N: 1, C: 1, OC: 1 },
  { N: 3, C: 5, OC: 7 },
  { N: 41, C: 67, OC: 129 },
  { N: 64, C: 256, OC: 96 },
  { N: 130, C: 33, OC: 17 },
];

const plus = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (x, i) => x + b[i]);

describe.each(simdLevels())('matmul on the cpu (%s)', (level) => {
  test.each(SHAPES)('forward with bias and residual matches float64: N=$N C=$C OC=$OC', ({ N, C, OC }) => {
    withSimd(level, () => {
      const rng = new Rng(N * 31 + C * 7 + OC);
      const x = rng.floats(N * C), w = rng.floats(OC * C, 0.5), bias = rng.floats(OC), res = rng.floats(N * OC);
      const inp = Tensor.from(x, [N, C]), weight = Tensor.from(w, [OC, C]);
      const plain = ops.matmul({ out: Tensor.zeros([N, OC]), inp, weight });
      const ref = matmulReference(x, w, null, null, N, C, OC);
      expectClose(plain.toArray(), ref.out, { ...TOL, scale: ref.scale });
      const full = ops.matmul({ out: Tensor.from(new Float32Array(N * OC).fill(NaN), [N, OC]), inp, weight,
        bias: Tensor.from(bias, [OC]), residual: Tensor.from(res, [N, OC]) });
      const refFull = matmulReference(x, w, bias, res, N, C, OC);
      expectClose(full.toArray(), refFull.out, { ...TOL, scale: refFull.scale });
      // residual = out: the product (and bias) accumulate onto what out holds.
      const acc = Tensor.from(res.slice(), [N, OC]);
      ops.matmul({ out: acc, inp, weight, bias: Tensor.from(bias, [OC]), residual: acc });
      expectClose(acc.toArray(), refFull.out, { ...TOL, scale: refFull.scale });
    });
  });

  test.each(SHAPES)('backward accumulates into non-zero gradients: N=$N C=$C OC=$OC', ({ N, C, OC }) => {
    withSimd(level, () => {
      const rng = new Rng(N + C * 13 + OC * 101);
      const x = rng.floats(N * C), w = rng.floats(OC * C), g = rng.floats(N * OC, 1.7);
      const d0 = { dinp: rng.floats(N * C), dweight: rng.floats(OC * C), dbias: rng.floats(OC) };
      const dinp = Tensor.from(d0.dinp.slice(), [N, C]), dweight = Tensor.from(d0.dweight.slice(), [OC, C]);
      const dbias = Tensor.from(d0.dbias.slice(), [OC]);
      ops.matmulBackward({ dinp, dweight, dbias, dout: Tensor.from(g, [N, OC]), inp: Tensor.from(x, [N, C]), weight: Tensor.from(w, [OC, C]) });
      const ref = matmulBackwardReference(g, x, w, N, C, OC);
      expectClose(dinp.toArray(), plus(ref.dinp, d0.dinp), { ...TOL, scale: plus(ref.dinpScale, d0.dinp.map(Math.abs)) });
      expectClose(dweight.toArray(), plus(ref.dweight, d0.dweight), { ...TOL, scale: plus(ref.dweightScale, d0.dweight.map(Math.abs)) });
      expectClose(dbias.toArray(), plus(ref.dbias, d0.dbias), { ...TOL, scale: plus(ref.dbiasScale, d0.dbias.map(Math.abs)) });
    });
  });
});

describe('matmul behaviour', () => {
  const rng = new Rng(3);
  const N = 300, C = 96, OC = 200;
  const x = rng.floats(N * C), w = rng.floats(OC * C), g = rng.floats(N * OC), b = rng.floats(OC);

  test('results do not depend on the thread count', () => {
    const run = () => {
      const out = ops.matmul({ out: Tensor.zeros([N, OC]), inp: Tensor.from(x, [N, C]), weight: Tensor.from(w, [OC, C]), bias: Tensor.from(b, [OC]) });
      const grads = { dinp: Tensor.zeros([N, C]), dweight: Tensor.zeros([OC, C]), dbias: Tensor.zeros([OC]) };
      ops.matmulBackward({ ...grads, dout: Tensor.from(g, [N, OC]), inp: Tensor.from(x, [N, C]), weight: Tensor.from(w, [OC, C]) });
      return [out, grads.dinp, grads.dweight, grads.dbias].map((t) => Buffer.from(t.toArray().buffer));
    };
    setNumThreads(1);
    const one = run();
    setNumThreads(0);
    const all = run();
    one.forEach((buffer, i) => expect(Buffer.compare(buffer, all[i])).toBe(0));
  });

  test('views of one buffer work as operands; only the gradients asked for are written', () => {
    const arena = Tensor.zeros([N * C + OC * C + N * OC]);
    const inp = arena.view(0, [N, C]).copyFrom(Tensor.from(x, [N, C]));
    const weight = arena.view(N * C, [OC, C]).copyFrom(Tensor.from(w, [OC, C]));
    const out = ops.matmul({ out: arena.view(N * C + OC * C, [N * OC]), inp, weight });
    expect(out.shape).toEqual([N * OC]);
    const ref = matmulReference(x, w, null, null, N, C, OC);
    expectClose(out.toArray(), ref.out, { ...TOL, scale: ref.scale });
    const dweight = Tensor.zeros([OC, C]);
    ops.matmulBackward({ dweight, dout: Tensor.from(g, [N, OC]), inp, weight });
    expect(dweight.toArray().some((v) => v !== 0)).toBe(true);
  });

  test('C = 0 gives bias + residual; N = 0 is a no-op', () => {
    const out = ops.matmul({ out: Tensor.zeros([2, 3]), inp: Tensor.zeros([2, 0]), weight: Tensor.zeros([3, 0]),
      bias: Tensor.from([1, 2, 3], [3]), residual: Tensor.from([1, 1, 1, 2, 2, 2], [2, 3]) });
    expect(Array.from(out.toArray())).toEqual([2, 3, 4, 3, 4, 5]);
    ops.matmul({ out: Tensor.zeros([0, 3]), inp: Tensor.zeros([0, 4]), weight: Tensor.zeros([3, 4]) });
  });
});

describe('matmul errors', () => {
  const inp = Tensor.zeros([4, 3]), weight = Tensor.zeros([5, 3]);

  test('shapes and dtypes name the argument', () => {
    expect(() => ops.matmul({ out: Tensor.zeros([4, 4]), inp, weight })).toThrow(ShapeError);
    expect(() => ops.matmul({ out: Tensor.zeros([4, 4]), inp, weight })).toThrow('Expected 20 elements ([4, 5]) for out but received Tensor float32 [4, 4] on cpu');
    expect(() => ops.matmul({ out: Tensor.zeros([4, 5]), inp: Tensor.zeros([4, 4]), weight })).toThrow('Expected inp of shape [N, 3] (a multiple of 3 elements) but received Tensor float32 [4, 4] on cpu');
    expect(() => ops.matmul({ out: Tensor.zeros([4, 5]), inp, weight: Tensor.zeros([15]) })).toThrow('Expected a 2-d tensor [OC, C] for weight');
    expect(() => ops.matmul({ out: Tensor.zeros([4, 5]), inp, weight, bias: Tensor.zeros([4]) })).toThrow('Expected 5 elements ([5]) for bias');
    expect(() => ops.matmul({ out: Tensor.zeros([4, 5], { dtype: 'int32' }), inp, weight })).toThrow(DTypeError);
    expect(() => ops.matmulBackward({ dout: Tensor.zeros([4, 5]), inp, weight })).toThrow('Expected at least one of dinp, dweight, dbias in tensors but received none');
  });

  test('outputs may not overlap their inputs (except residual = out)', () => {
    const arena = Tensor.zeros([100]);
    const x = arena.view(0, [4, 3]);
    expect(() => ops.matmul({ out: arena.view(5, [4, 5]), inp: x, weight })).toThrow(ArgumentError);
    expect(() => ops.matmul({ out: arena.view(5, [4, 5]), inp: x, weight })).toThrow('Expected out to share no memory with inp but received overlapping tensors');
    expect(() => ops.matmul({ out: arena.view(20, [4, 5]), inp: x, weight, residual: arena.view(22, [4, 5]) })).toThrow('Expected out to be residual itself or to share no memory with it');
    expect(() => ops.matmulBackward({ dinp: arena.view(40, [4, 3]), dweight: arena.view(45, [5, 3]), dout: Tensor.zeros([4, 5]), inp, weight })).toThrow('Expected dinp to share no memory with dweight');
  });

  test('bad tensors objects', () => {
    expect(() => ops.matmul(undefined as never)).toThrow('Expected an object of tensors { out, inp, weight, bias?, residual? } for tensors but received undefined');
    expect(() => ops.matmul({ out: Tensor.zeros([4, 5]), inp, weight, biass: Tensor.zeros([5]) } as never)).toThrow('unknown option "biass"');
    expect(() => ops.matmul({ out: Tensor.zeros([4, 5]), inp: new Float32Array(12), weight } as never)).toThrow('Expected a Tensor for inp but received Float32Array(12)');
  });
});
