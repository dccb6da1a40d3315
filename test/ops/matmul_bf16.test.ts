// matmul_bf16.test.ts: matmul / matmulBackward with bfloat16 inputs (inp, weight, dout) and
// float32 outputs, against the float64 reference of the bf16-rounded inputs, on every device: on
// cuda the tensor-core GEMM of cuda/gemm_bf16.cu (mma.sync, ldmatrix, cp.async; in the simulator,
// cuda/sim/tensor_core.cc), on the cpu the sgemm of the exactly widened values. Shapes: tiny, odd
// (M, N not multiples of the 64/128 tiles, K not a multiple of 16 or 8: zero-filled tails and the
// element-wise load path) on every device; on cuda also model-sized (64 x 896 x 896) and large
// enough for the 128x128 tiles in each product (sampled elements against float64, to keep the
// reference cheap); views at odd offsets (unaligned rows), determinism and the dtype errors.
// Tolerance: float32 accumulation relative to the magnitude of the summed terms, as for the sgemm.
import { DTypeError, Tensor, fromBFloat16, ops, toBFloat16 } from '../../lib';
import { matmulBackwardReference, matmulReference } from '../reference/matmul';
import { expectClose } from '../util/close';
import { describeOn, describeTargets, onTarget, type Target } from '../util/devices';
import { Rng } from '../util/random';

const TOL = { rtol: 2e-5, atol: 1e-6 };
// forward: M = N, N = OC, K = C; dinp: M = N, N = C, K = OC; dweight: M = OC, N = C, K = N.
const SHAPES = [
  { N: 1, C: 1, OC: 1 },
  { N: 1, C: 15, OC: 7 },
  { N: 17, C: 17, OC: 129 },
  { N: 33, C: 100, OC: 7 },
  { N: 17, C: 16, OC: 129 },   // every leading dimension a multiple of 8: cp.async path, tails in M and N
  { N: 33, C: 24, OC: 40 },    // K = 24: one partial 32-wide slab, zero-filled by cp.async
  { N: 100, C: 1, OC: 15 },
];

/** bf16 bits of n uniform values in [-scale, scale) and their exact float32 values. */
function bf16Values(rng: Rng, n: number, scale = 1): { bits: Uint16Array; values: Float32Array } {
  const bits = toBFloat16(rng.floats(n, scale));
  return { bits, values: fromBFloat16(bits) };
}

const plus = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (x, i) => x + b[i]);

function check(target: Target, { N, C, OC }: { N: number; C: number; OC: number }, seed: number) {
  const device = target.device, dtype = 'bfloat16' as const;
  const rng = new Rng(seed);
  const x = bf16Values(rng, N * C), w = bf16Values(rng, OC * C, 0.5), g = bf16Values(rng, N * OC, 1.7);
  const bias = rng.floats(OC), res = rng.floats(N * OC);
  const inp = Tensor.from(x.bits, [N, C], { dtype, device }), weight = Tensor.from(w.bits, [OC, C], { dtype, device });
  const out = ops.matmul({ out: Tensor.from(new Float32Array(N * OC).fill(NaN), [N, OC], { device }), inp, weight,
    bias: Tensor.from(bias, [OC], { device }), residual: Tensor.from(res, [N, OC], { device }) });
  expect(out.dtype).toBe('float32');
  const ref = matmulReference(x.values, w.values, bias, res, N, C, OC);
  expectClose(out.toArray(), ref.out, { ...TOL, scale: ref.scale });
  // residual = out accumulates
  const acc = Tensor.from(res.slice(), [N, OC], { device });
  ops.matmul({ out: acc, inp, weight, bias: Tensor.from(bias, [OC], { device }), residual: acc });
  expectClose(acc.toArray(), ref.out, { ...TOL, scale: ref.scale });

  const d0 = { dinp: rng.floats(N * C), dweight: rng.floats(OC * C), dbias: rng.floats(OC) };
  const dinp = Tensor.from(d0.dinp.slice(), [N, C], { device }), dweight = Tensor.from(d0.dweight.slice(), [OC, C], { device });
  const dbias = Tensor.from(d0.dbias.slice(), [OC], { device });
  ops.matmulBackward({ dinp, dweight, dbias, dout: Tensor.from(g.bits, [N, OC], { dtype, device }), inp, weight });
  const dref = matmulBackwardReference(g.values, x.values, w.values, N, C, OC);
  expectClose(dinp.toArray(), plus(dref.dinp, d0.dinp), { ...TOL, scale: plus(dref.dinpScale, d0.dinp.map(Math.abs)) });
  expectClose(dweight.toArray(), plus(dref.dweight, d0.dweight), { ...TOL, scale: plus(dref.dweightScale, d0.dweight.map(Math.abs)) });
  expectClose(dbias.toArray(), plus(dref.dbias, d0.dbias), { ...TOL, scale: plus(dref.dbiasScale, d0.dbias.map(Math.abs)) });
}

/** Checks `count` seeded-random elements plus the last row and column of an [M, N] result against
 *  float64 dot products: at(m, n) gives [value, magnitude]. */
function expectSampled(actual: ArrayLike<number>, M: number, N: number, at: (m: number, n: number) => [number, number], rng: Rng, count = 1500) {
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

/** Large shapes: forward (with bias), dinp and dweight (accumulated onto non-zero values), sampled. */
function checkSampled(device: 'cpu' | 'cuda', { N, C, OC }: { N: number; C: number; OC: number }, seed: number) {
  const rng = new Rng(seed), dtype = 'bfloat16' as const;
  const x = bf16Values(rng, N * C), w = bf16Values(rng, OC * C), g = bf16Values(rng, N * OC), bias = rng.floats(OC);
  const d0 = { dinp: rng.floats(N * C), dweight: rng.floats(OC * C) };
  const inp = Tensor.from(x.bits, [N, C], { dtype, device }), weight = Tensor.from(w.bits, [OC, C], { dtype, device });
  const out = ops.matmul({ out: Tensor.zeros([N, OC], { device }), inp, weight, bias: Tensor.from(bias, [OC], { device }) }).toArray();
  const dinp = Tensor.from(d0.dinp, [N, C], { device }), dweight = Tensor.from(d0.dweight, [OC, C], { device });
  ops.matmulBackward({ dinp, dweight, dout: Tensor.from(g.bits, [N, OC], { dtype, device }), inp, weight });
  const X = x.values, W = w.values, G = g.values;
  expectSampled(out, N, OC, (n, o) => {
    let sum = bias[o], magnitude = Math.abs(bias[o]);
    for (let c = 0; c < C; c++) sum += X[n * C + c] * W[o * C + c], magnitude += Math.abs(X[n * C + c] * W[o * C + c]);
    return [sum, magnitude];
  }, rng);
  expectSampled(dinp.toArray(), N, C, (n, c) => {
    let sum = d0.dinp[n * C + c], magnitude = Math.abs(sum);
    for (let o = 0; o < OC; o++) sum += G[n * OC + o] * W[o * C + c], magnitude += Math.abs(G[n * OC + o] * W[o * C + c]);
    return [sum, magnitude];
  }, rng);
  expectSampled(dweight.toArray(), OC, C, (o, c) => {
    let sum = d0.dweight[o * C + c], magnitude = Math.abs(sum);
    for (let n = 0; n < N; n++) sum += G[n * OC + o] * X[n * C + c], magnitude += Math.abs(G[n * OC + o] * X[n * C + c]);
    return [sum, magnitude];
  }, rng);
}

describeTargets('matmul with bfloat16 inputs', (target) => {
  const device = target.device;
  test.each(SHAPES)('forward and backward match float64 of the rounded inputs: N=$N C=$C OC=$OC', (shape) => {
    onTarget(target, () => check(target, shape, shape.N * 31 + shape.C * 7 + shape.OC));
  });


  test('views at odd offsets of one bf16 buffer (rows not 16-byte aligned)', () => {
    onTarget(target, () => {
      const rng = new Rng(17), N = 37, C = 24, OC = 40, dtype = 'bfloat16' as const;
      const x = bf16Values(rng, N * C), w = bf16Values(rng, OC * C), g = bf16Values(rng, N * OC);
      const arena = Tensor.zeros([1 + N * C + OC * C + N * OC], { dtype, device });
      const inp = arena.view(1, [N, C]).copyFrom(Tensor.from(x.bits, [N, C], { dtype, device }));
      const weight = arena.view(1 + N * C, [OC, C]).copyFrom(Tensor.from(w.bits, [OC, C], { dtype, device }));
      const dout = arena.view(1 + N * C + OC * C, [N, OC]).copyFrom(Tensor.from(g.bits, [N, OC], { dtype, device }));
      const out = ops.matmul({ out: Tensor.zeros([N, OC], { device }), inp, weight });
      const ref = matmulReference(x.values, w.values, null, null, N, C, OC);
      expectClose(out.toArray(), ref.out, { ...TOL, scale: ref.scale });
      const grads = { dinp: Tensor.zeros([N, C], { device }), dweight: Tensor.zeros([OC, C], { device }), dbias: Tensor.zeros([OC], { device }) };
      ops.matmulBackward({ ...grads, dout, inp, weight });
      const dref = matmulBackwardReference(g.values, x.values, w.values, N, C, OC);
      expectClose(grads.dinp.toArray(), dref.dinp, { ...TOL, scale: dref.dinpScale });
      expectClose(grads.dweight.toArray(), dref.dweight, { ...TOL, scale: dref.dweightScale });
      expectClose(grads.dbias.toArray(), dref.dbias, { ...TOL, scale: dref.dbiasScale });
    });
  });

  test('inputs of mixed dtypes are a DTypeError', () => {
    onTarget(target, () => {
      const b = Tensor.zeros([4, 3], { dtype: 'bfloat16', device }), f = Tensor.zeros([5, 3], { device });
      expect(() => ops.matmul({ out: Tensor.zeros([4, 5], { device }), inp: b, weight: f })).toThrow(DTypeError);
      expect(() => ops.matmul({ out: Tensor.zeros([4, 5], { device }), inp: b, weight: f })).toThrow('weight');
      expect(() => ops.matmulBackward({ dinp: Tensor.zeros([4, 3], { device }), dout: Tensor.zeros([4, 5], { device }), inp: b,
        weight: Tensor.zeros([5, 3], { dtype: 'bfloat16', device }) })).toThrow(DTypeError);
      expect(() => ops.matmul({ out: Tensor.zeros([4, 5], { dtype: 'bfloat16', device }), inp: b,
        weight: Tensor.zeros([5, 3], { dtype: 'bfloat16', device }) })).toThrow(DTypeError);
    });
  });
});

describeOn('cuda', 'bf16 tensor-core GEMM on cuda', () => {
  const device = 'cuda' as const;
  test('model-sized (sampled against float64): N=64 C=896 OC=896', () => {
    checkSampled(device, { N: 64, C: 896, OC: 896 }, 5);
  });

  // >= 132 output tiles of 128x128 in the forward, dinp and dweight products respectively.
  test.each([
    { N: 1290, C: 24, OC: 1800 },
    { N: 1290, C: 1800, OC: 24 },
    { N: 24, C: 1800, OC: 1290 },
  ])('128x128 tiles (sampled against float64): N=$N C=$C OC=$OC', (shape) => {
    checkSampled(device, shape, shape.N + shape.C + shape.OC);
  });

  test('results are deterministic: the same bits on repeated runs', () => {
    const rng = new Rng(3), N = 70, C = 96, OC = 130, dtype = 'bfloat16' as const;
    const inp = Tensor.from(bf16Values(rng, N * C).bits, [N, C], { dtype, device });
    const weight = Tensor.from(bf16Values(rng, OC * C).bits, [OC, C], { dtype, device });
    const dout = Tensor.from(bf16Values(rng, N * OC).bits, [N, OC], { dtype, device });
    const run = () => {
      const out = ops.matmul({ out: Tensor.zeros([N, OC], { device }), inp, weight });
      const grads = { dinp: Tensor.zeros([N, C], { device }), dweight: Tensor.zeros([OC, C], { device }), dbias: Tensor.zeros([OC], { device }) };
      ops.matmulBackward({ ...grads, dout, inp, weight });
      return [out, grads.dinp, grads.dweight, grads.dbias].map((t) => Buffer.from(t.toArray().buffer));
    };
    const first = run(), second = run();
    first.forEach((buffer, i) => expect(Buffer.compare(buffer, second[i])).toBe(0));
  });
});
