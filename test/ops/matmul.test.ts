// matmul.test.ts: matmul / matmulBackward against the float64 reference on every device (the cpu
// at every SIMD level: the sgemm micro-kernels; cuda: the tiled SGEMM, both tile shapes, 16-byte
// and scalar paths), tiny, model-sized and odd shapes, with and without bias and residual
// (residual = out accumulates), gradients accumulated into non-zero buffers, determinism (thread
// counts on the cpu, repeated runs on cuda), views of one buffer, and the error paths.
import { ArgumentError, DeviceError, DTypeError, ShapeError, Tensor, ops, setNumThreads } from '../../lib';
import { matmulBackwardReference, matmulReference } from '../reference/matmul';
import { expectClose } from '../util/close';
import { describeOn, describeTargets, onTarget, type Target } from '../util/devices';
import { Rng } from '../util/random';

const TOL = { rtol: 2e-5, atol: 1e-6 };
const SHAPES = [
  { N: 1, C: 1, OC: 1 },
  { N: 3, C: 5, OC: 7 },
  { N: 41, C: 67, OC: 129 },
  { N: 64, C: 256, OC: 96 },
  { N: 130, C: 33, OC: 17 },
];
// On cuda: enough output tiles for the 128x128 tiles (>= 132 blocks) in the forward, dinp and
// dweight GEMMs respectively, with a short K so the float64 reference stays cheap.
const LARGE = [
  { N: 1250, C: 20, OC: 1800 },
  { N: 1250, C: 1800, OC: 20 },
  { N: 21, C: 1800, OC: 1250 },
];

const plus = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (x, i) => x + b[i]);

function forwardCase(target: Target, { N, C, OC }: { N: number; C: number; OC: number }) {
  const device = target.device;
  const rng = new Rng(N * 31 + C * 7 + OC);
  const x = rng.floats(N * C), w = rng.floats(OC * C, 0.5), bias = rng.floats(OC), res = rng.floats(N * OC);
  const inp = Tensor.from(x, [N, C], { device }), weight = Tensor.from(w, [OC, C], { device });
  const plain = ops.matmul({ out: Tensor.zeros([N, OC], { device }), inp, weight });
  expect(plain.device).toBe(device);
  const ref = matmulReference(x, w, null, null, N, C, OC);
  expectClose(plain.toArray(), ref.out, { ...TOL, scale: ref.scale });
  const full = ops.matmul({ out: Tensor.from(new Float32Array(N * OC).fill(NaN), [N, OC], { device }), inp, weight,
    bias: Tensor.from(bias, [OC], { device }), residual: Tensor.from(res, [N, OC], { device }) });
  const refFull = matmulReference(x, w, bias, res, N, C, OC);
  expectClose(full.toArray(), refFull.out, { ...TOL, scale: refFull.scale });
  // residual = out: the product (and bias) accumulate onto what out holds.
  const acc = Tensor.from(res.slice(), [N, OC], { device });
  ops.matmul({ out: acc, inp, weight, bias: Tensor.from(bias, [OC], { device }), residual: acc });
  expectClose(acc.toArray(), refFull.out, { ...TOL, scale: refFull.scale });
}

function backwardCase(target: Target, { N, C, OC }: { N: number; C: number; OC: number }) {
  const device = target.device;
  const rng = new Rng(N + C * 13 + OC * 101);
  const x = rng.floats(N * C), w = rng.floats(OC * C), g = rng.floats(N * OC, 1.7);
  const d0 = { dinp: rng.floats(N * C), dweight: rng.floats(OC * C), dbias: rng.floats(OC) };
  const dinp = Tensor.from(d0.dinp.slice(), [N, C], { device }), dweight = Tensor.from(d0.dweight.slice(), [OC, C], { device });
  const dbias = Tensor.from(d0.dbias.slice(), [OC], { device });
  ops.matmulBackward({ dinp, dweight, dbias, dout: Tensor.from(g, [N, OC], { device }), inp: Tensor.from(x, [N, C], { device }),
    weight: Tensor.from(w, [OC, C], { device }) });
  const ref = matmulBackwardReference(g, x, w, N, C, OC);
  expectClose(dinp.toArray(), plus(ref.dinp, d0.dinp), { ...TOL, scale: plus(ref.dinpScale, d0.dinp.map(Math.abs)) });
  expectClose(dweight.toArray(), plus(ref.dweight, d0.dweight), { ...TOL, scale: plus(ref.dweightScale, d0.dweight.map(Math.abs)) });
  expectClose(dbias.toArray(), plus(ref.dbias, d0.dbias), { ...TOL, scale: plus(ref.dbiasScale, d0.dbias.map(Math.abs)) });
}

describeTargets('matmul', (target) => {
  const device = target.device;
  test.each(SHAPES)('forward with bias and residual matches float64: N=$N C=$C OC=$OC', (shape) => {
    onTarget(target, () => forwardCase(target, shape));
  });

  test.each(SHAPES)('backward accumulates into non-zero gradients: N=$N C=$C OC=$OC', (shape) => {
    onTarget(target, () => backwardCase(target, shape));
  });

  test('views at unaligned offsets of one buffer work as operands and outputs', () => {
    onTarget(target, () => {
      const rng = new Rng(17), N = 37, C = 24, OC = 40;
      const x = rng.floats(N * C), w = rng.floats(OC * C), g = rng.floats(N * OC);
      const arena = Tensor.zeros([1 + N * C + OC * C + N * OC + OC], { device });  // odd offsets: no 16-byte rows
      const inp = arena.view(1, [N, C]).copyFrom(Tensor.from(x, [N, C], { device }));
      const weight = arena.view(1 + N * C, [OC, C]).copyFrom(Tensor.from(w, [OC, C], { device }));
      const out = ops.matmul({ out: arena.view(1 + N * C + OC * C, [N, OC]), inp, weight });
      const ref = matmulReference(x, w, null, null, N, C, OC);
      expectClose(out.toArray(), ref.out, { ...TOL, scale: ref.scale });
      const dbias = arena.view(1 + N * C + OC * C + N * OC, [OC]);
      const dweight = Tensor.zeros([OC, C], { device });
      ops.matmulBackward({ dweight, dbias, dout: Tensor.from(g, [N, OC], { device }), inp, weight });
      const dref = matmulBackwardReference(g, x, w, N, C, OC);
      expectClose(dweight.toArray(), dref.dweight, { ...TOL, scale: dref.dweightScale });
      expectClose(dbias.toArray(), dref.dbias, { ...TOL, scale: dref.dbiasScale });
    });
  });
});

/** n uniform floats in [-1, 1): cheaper than normals for the large cases. */
function uniforms(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 2 * rng.next() - 1;
  return out;
}

/** Checks `count` seeded-random elements plus the last row and column of an [M, N] result
 *  against float64 dot products: at(m, n) gives [value, magnitude]. */
function expectSampled(actual: ArrayLike<number>, M: number, N: number, at: (m: number, n: number) => [number, number], rng: Rng, count = 3000) {
  const indices: number[] = [];
  for (let k = 0; k < count; k++) indices.push(rng.int(0, M * N));
  for (let n = 0; n < N; n++) indices.push((M - 1) * N + n);
  for (let m = 0; m < M; m++) indices.push(m * N + N - 1);
  const got = new Float64Array(indices.length), want = new Float64Array(indices.length), scale = new Float64Array(indices.length);
  indices.forEach((i, k) => {
    got[k] = actual[i];
    [want[k], scale[k]] = at(Math.floor(i / N), i % N);
  });
  expectClose(got, want, { ...TOL, scale });
}

describeOn('cuda', 'matmul on cuda', () => {
  const device = 'cuda' as const;
  test.each(LARGE)('128x128 tiles (sampled against float64): N=$N C=$C OC=$OC', ({ N, C, OC }) => {
    const rng = new Rng(N + C + OC);
    const x = uniforms(rng, N * C), w = uniforms(rng, OC * C), g = uniforms(rng, N * OC), bias = uniforms(rng, OC);
    const d0 = { dinp: uniforms(rng, N * C), dweight: uniforms(rng, OC * C) };
    const inp = Tensor.from(x, [N, C], { device }), weight = Tensor.from(w, [OC, C], { device });
    const out = ops.matmul({ out: Tensor.zeros([N, OC], { device }), inp, weight, bias: Tensor.from(bias, [OC], { device }) }).toArray();
    const dinp = Tensor.from(d0.dinp, [N, C], { device }), dweight = Tensor.from(d0.dweight, [OC, C], { device });
    ops.matmulBackward({ dinp, dweight, dout: Tensor.from(g, [N, OC], { device }), inp, weight });
    expectSampled(out, N, OC, (n, o) => {
      let sum = bias[o], magnitude = Math.abs(bias[o]);
      for (let c = 0; c < C; c++) {
        sum += x[n * C + c] * w[o * C + c];
        magnitude += Math.abs(x[n * C + c] * w[o * C + c]);
      }
      return [sum, magnitude];
    }, rng);
    expectSampled(dinp.toArray(), N, C, (n, c) => {
      let sum = d0.dinp[n * C + c], magnitude = Math.abs(sum);
      for (let o = 0; o < OC; o++) {
        sum += g[n * OC + o] * w[o * C + c];
        magnitude += Math.abs(g[n * OC + o] * w[o * C + c]);
      }
      return [sum, magnitude];
    }, rng);
    expectSampled(dweight.toArray(), OC, C, (o, c) => {
      let sum = d0.dweight[o * C + c], magnitude = Math.abs(sum);
      for (let n = 0; n < N; n++) {
        sum += g[n * OC + o] * x[n * C + c];
        magnitude += Math.abs(g[n * OC + o] * x[n * C + c]);
      }
      return [sum, magnitude];
    }, rng);
  });

  test('results are deterministic: the same bits on repeated runs', () => {
    const rng = new Rng(3), N = 300, C = 96, OC = 200, device = 'cuda' as const;
    const inp = Tensor.from(rng.floats(N * C), [N, C], { device }), weight = Tensor.from(rng.floats(OC * C), [OC, C], { device });
    const dout = Tensor.from(rng.floats(N * OC), [N, OC], { device }), bias = Tensor.from(rng.floats(OC), [OC], { device });
    const run = () => {
      const out = ops.matmul({ out: Tensor.zeros([N, OC], { device }), inp, weight, bias });
      const grads = { dinp: Tensor.zeros([N, C], { device }), dweight: Tensor.zeros([OC, C], { device }), dbias: Tensor.zeros([OC], { device }) };
      ops.matmulBackward({ ...grads, dout, inp, weight });
      return [out, grads.dinp, grads.dweight, grads.dbias].map((t) => Buffer.from(t.toArray().buffer));
    };
    const first = run(), second = run();
    first.forEach((buffer, i) => expect(Buffer.compare(buffer, second[i])).toBe(0));
  });

  test('C = 0 gives bias + residual; N = 0 is a no-op', () => {
    const device = 'cuda' as const;
    const out = ops.matmul({ out: Tensor.zeros([2, 3], { device }), inp: Tensor.zeros([2, 0], { device }), weight: Tensor.zeros([3, 0], { device }),
      bias: Tensor.from([1, 2, 3], [3], { device }), residual: Tensor.from([1, 1, 1, 2, 2, 2], [2, 3], { device }) });
    expect(Array.from(out.toArray())).toEqual([2, 3, 4, 3, 4, 5]);
    ops.matmul({ out: Tensor.zeros([0, 3], { device }), inp: Tensor.zeros([0, 4], { device }), weight: Tensor.zeros([3, 4], { device }) });
    const dbias = Tensor.from([1, 2, 3], [3], { device });
    ops.matmulBackward({ dbias, dout: Tensor.zeros([0, 3], { device }), inp: Tensor.zeros([0, 4], { device }), weight: Tensor.zeros([3, 4], { device }) });
    expect(Array.from(dbias.toArray())).toEqual([1, 2, 3]);
  });

  test('mixing devices is a DeviceError; outputs stay on the device', () => {
    const inp = Tensor.zeros([4, 3], { device: 'cuda' }), weight = Tensor.zeros([5, 3]);
    expect(() => ops.matmul({ out: Tensor.zeros([4, 5], { device: 'cuda' }), inp, weight })).toThrow(DeviceError);
    expect(() => ops.matmul({ out: Tensor.zeros([4, 5], { device: 'cuda' }), inp, weight })).toThrow('Expected weight on cuda like out but received a tensor on cpu');
    const arena = Tensor.zeros([100], { device: 'cuda' });
    expect(() => ops.matmul({ out: arena.view(5, [4, 5]), inp: arena.view(0, [4, 3]), weight: weight.to('cuda') })).toThrow('Expected out to share no memory with inp');
  });
});

describeOn('cpu', 'matmul behaviour', () => {
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

  // A few rows against a large weight (a decode step: <= 128 rows, OC >= 4 x rows, OC x C >= 2^18)
  // take sgemm's swapped path (C^T = W x^T, native/cpu/matmul.cc): against the float64 reference,
  // and bit for bit equal to the same rows of a tall batch, which takes the blocked path.
  test('a decode step\'s few rows match the reference and the same rows of a tall batch, bit for bit', () => {
    const D = 300, O = 1200, tall = 200;
    const xs = rng.floats(tall * D), ws = rng.floats(O * D), bs = rng.floats(O), rs = rng.floats(tall * O);
    const weight = Tensor.from(ws, [O, D]), bias = Tensor.from(bs, [O]);
    // residual = out: sgemm accumulates onto C (beta = 1), which the swapped path transposes in first.
    const rowsOf = (rows: number) => {
      const inp = Tensor.from(xs.slice(0, rows * D), [rows, D]);
      const plain = ops.matmul({ out: Tensor.zeros([rows, O]), inp, weight, bias }).toArray() as Float32Array;
      const acc = Tensor.from(rs.slice(0, rows * O), [rows, O]);
      ops.matmul({ out: acc, inp, weight, bias, residual: acc });
      return { plain, accumulated: acc.toArray() as Float32Array };
    };
    const full = rowsOf(tall);
    for (const rows of [1, 7, 64, 128]) {
      const got = rowsOf(rows);
      for (const [key, residual] of [['plain', null], ['accumulated', rs.slice(0, rows * O)]] as const) {
        const ref = matmulReference(xs.slice(0, rows * D), ws, bs, residual, rows, D, O);
        expectClose(got[key], ref.out, { ...TOL, scale: ref.scale });
        expect(Buffer.compare(Buffer.from(got[key].buffer), Buffer.from(full[key].buffer, 0, rows * O * 4))).toBe(0);
      }
    }
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

describeOn('cpu', 'matmul errors', () => {
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
