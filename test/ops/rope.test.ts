// rope.test.ts: rope / ropeBackward against the reference (HF's fp32 angles, float64 rotation):
// small and large positions (where fp32 angles matter), several thetas and head sizes, in place,
// the backward as the transpose (it writes dinp), repeated positions (the cos/sin table) and
// scattered ones, thread-count determinism, and the error paths; on every device (cuda: 16-byte
// and element-wise paths, its own double-precision sin/cos of the fp32 angles, which must equal
// the CPU's).
import { ArgumentError, DeviceError, ShapeError, Tensor, ops, setNumThreads } from '../../lib';
import { ropeAngles, ropeReference, ropeScale } from '../reference/rope';
import { expectClose } from '../util/close';
import { describeOn, describeTargets, onTarget } from '../util/devices';
import { Rng } from '../util/random';

const TOL = { rtol: 2e-6, atol: 1e-7 };
const CASES = [
  { N: 1, heads: 1, D: 2, theta: 10000, maxPos: 1 },
  { N: 8, heads: 3, D: 6, theta: 10000, maxPos: 8 },
  { N: 128, heads: 4, D: 64, theta: 10000, maxPos: 128 },
  { N: 33, heads: 2, D: 128, theta: 1e6, maxPos: 32768 },
  { N: 50, heads: 8, D: 32, theta: 500000, maxPos: 200000 },
];

function positionsFor(rng: Rng, N: number, maxPos: number): Int32Array {
  // batch-like (repeated runs of 0..T-1) when the range is small, scattered otherwise
  return maxPos <= N ? Int32Array.from({ length: N }, (_, n) => n % maxPos) : rng.ints(N, 0, maxPos);
}

describeTargets('rope', (target) => {
  const device = target.device;
  test.each(CASES)('forward and backward match: N=$N heads=$heads D=$D theta=$theta positions < $maxPos', ({ N, heads, D, theta, maxPos }) => {
    onTarget(target, () => {
      const rng = new Rng(N + D + maxPos);
      const x = rng.floats(N * heads * D, 2), p = positionsFor(rng, N, maxPos);
      const positions = Tensor.from(p, [N], { device });
      const out = ops.rope({ out: Tensor.zeros([N, heads * D], { device }), inp: Tensor.from(x, [N, heads, D], { device }), positions }, { headDim: D, theta });
      const scale = ropeScale(x, p, N, heads, D, theta);
      expectClose(out.toArray(), ropeReference(x, p, N, heads, D, theta), { ...TOL, scale });
      // In place.
      const inplace = Tensor.from(x.slice(), [N, heads * D], { device });
      ops.rope({ out: inplace, inp: inplace, positions }, { headDim: D, theta });
      expect(inplace.toArray()).toEqual(out.toArray());
      // Backward: rotation by -angle, written (not accumulated), also in place.
      const g = rng.floats(N * heads * D);
      const dinp = Tensor.from(new Float32Array(N * heads * D).fill(7), [N, heads * D], { device });
      ops.ropeBackward({ dinp, dout: Tensor.from(g, [N, heads * D], { device }), positions }, { headDim: D, theta });
      expectClose(dinp.toArray(), ropeReference(g, p, N, heads, D, theta, -1), { ...TOL, scale: ropeScale(g, p, N, heads, D, theta) });
      const dinplace = Tensor.from(g.slice(), [N, heads * D], { device });
      ops.ropeBackward({ dinp: dinplace, dout: dinplace, positions }, { headDim: D, theta });
      expect(dinplace.toArray()).toEqual(dinp.toArray());
    });
  });

  test('the backward is the transpose: <rope(x), g> = <x, ropeBackward(g)>', () => {
    const rng = new Rng(5);
    const N = 20, heads = 2, D = 16, p = rng.ints(N, 0, 1000);
    const x = rng.floats(N * heads * D), g = rng.floats(N * heads * D);
    const positions = Tensor.from(p, [N], { device });
    const y = ops.rope({ out: Tensor.zeros([N, heads * D], { device }), inp: Tensor.from(x, [N, heads * D], { device }), positions }, { headDim: D }).toArray();
    const dx = Tensor.zeros([N, heads * D], { device });
    ops.ropeBackward({ dinp: dx, dout: Tensor.from(g, [N, heads * D], { device }), positions }, { headDim: D });
    let a = 0, b = 0;
    dx.toArray().forEach((v, i) => { b += v * x[i]; a += y[i] * g[i]; });
    expect(Math.abs(a - b)).toBeLessThan(1e-4 * Math.abs(a) + 1e-4);
  });

  test('options.invFreq replaces the frequencies of theta (e.g. HF rope_scaling)', () => {
    const rng = new Rng(9), N = 12, D = 8, p = rng.ints(N, 0, 50), x = rng.floats(N * D);
    const scaled = Float32Array.from(ropeAngles(1, D, 10000), (f) => f / 8);  // a uniform rescale
    const out = ops.rope({ out: Tensor.zeros([N, D], { device }), inp: Tensor.from(x, [N, D], { device }), positions: Tensor.from(p, [N], { device }) },
      { headDim: D, invFreq: Tensor.from(scaled, [D / 2], { device }) });
    const expected = new Float64Array(N * D);
    for (let n = 0; n < N; n++)
      for (let i = 0; i < D / 2; i++) {
        const a = Math.fround(Math.fround(p[n]) * scaled[i]), c = Math.cos(a), s = Math.sin(a);
        expected[n * D + i] = x[n * D + i] * c - x[n * D + D / 2 + i] * s;
        expected[n * D + D / 2 + i] = x[n * D + D / 2 + i] * c + x[n * D + i] * s;
      }
    expectClose(out.toArray(), expected, { rtol: 2e-6, atol: 1e-6 });
    expect(() => ops.rope({ out: Tensor.zeros([N, D], { device }), inp: Tensor.from(x, [N, D], { device }), positions: Tensor.from(p, [N], { device }) },
      { headDim: D, invFreq: Tensor.zeros([D], { device }) })).toThrow('Expected 4 elements ([4]) for options.invFreq');
  });
});

describeOn('cuda', 'rope on cuda', () => {
  const device = 'cuda' as const;
  test('equals the cpu bit for bit (same fp32 angles, same rounded cos/sin, no FMA) and repeats itself', () => {
    const rng = new Rng(12), N = 300, heads = 3, D = 64;
    const x = rng.floats(N * heads * D), p = rng.ints(N, 0, 100000);
    const run = (on: 'cpu' | 'cuda') => ops.rope({ out: Tensor.zeros([N, heads * D], { device: on }), inp: Tensor.from(x, [N, heads * D], { device: on }),
      positions: Tensor.from(p, [N], { device: on }) }, { headDim: D, theta: 1e6 }).toArray();
    const cpu = run('cpu'), cuda = run('cuda');
    expect(Buffer.compare(Buffer.from(cuda.buffer), Buffer.from(cpu.buffer))).toBe(0);
    expect(Buffer.compare(Buffer.from(run('cuda').buffer), Buffer.from(cuda.buffer))).toBe(0);
  });

  test('positions are checked on the host; mixing devices is a DeviceError', () => {
    const inp = Tensor.zeros([4, 8], { device });
    const negative = Tensor.from(new Int32Array([0, 1, -2, 3]), [4], { device });
    expect(() => ops.rope({ out: Tensor.zeros([4, 8], { device }), inp, positions: negative }, { headDim: 4 })).toThrow('Expected every position >= 0 but received -2 at index 2');
    expect(() => ops.rope({ out: Tensor.zeros([4, 8], { device }), inp, positions: Tensor.from(new Int32Array(4), [4]) }, { headDim: 4 })).toThrow(DeviceError);
  });
});

describeOn('cpu', 'rope behaviour', () => {
  test('results do not depend on the thread count', () => {
    const rng = new Rng(2);
    const N = 4096, heads = 4, D = 64;
    const x = Tensor.from(rng.floats(N * heads * D), [N, heads * D]), positions = Tensor.from(rng.ints(N, 0, 2048), [N]);
    setNumThreads(1);
    const one = ops.rope({ out: Tensor.zeros([N, heads * D]), inp: x, positions }, { headDim: D }).toArray();
    setNumThreads(0);
    const all = ops.rope({ out: Tensor.zeros([N, heads * D]), inp: x, positions }, { headDim: D }).toArray();
    expect(Buffer.compare(Buffer.from(one.buffer), Buffer.from(all.buffer))).toBe(0);
  });
});

describeOn('cpu', 'rope errors', () => {
  const inp = Tensor.zeros([4, 8]), positions = Tensor.from(new Int32Array(4), [4]);
  test('options, shapes, positions and overlap', () => {
    expect(() => ops.rope({ out: Tensor.zeros([4, 8]), inp, positions }, {} as never)).toThrow('Expected an even integer >= 2 (the head size) for options.headDim but received undefined');
    expect(() => ops.rope({ out: Tensor.zeros([4, 8]), inp, positions }, { headDim: 3 })).toThrow('Expected an even integer >= 2 (the head size) for options.headDim but received 3 of type number');
    expect(() => ops.rope({ out: Tensor.zeros([4, 8]), inp, positions }, { headDim: 4, theta: 0 })).toThrow('Expected a finite number > 0 for options.theta');
    expect(() => ops.rope({ out: Tensor.zeros([4, 8]), inp, positions }, { headDim: 16 })).toThrow(ShapeError);
    expect(() => ops.rope({ out: Tensor.zeros([4, 8]), inp, positions }, { headDim: 16 })).toThrow('Expected inp of shape [N, heads·D] with N = 4 (positions) and D = 16 but received Tensor float32 [4, 8] on cpu');
    expect(() => ops.rope({ out: Tensor.zeros([4, 4]), inp, positions }, { headDim: 4 })).toThrow('Expected 32 elements ([4, 8]) for out');
    expect(() => ops.rope({ out: Tensor.zeros([4, 8]), inp, positions: Tensor.zeros([4]) }, { headDim: 4 })).toThrow('Expected dtype int32 for positions');
    const negative = Tensor.from(new Int32Array([0, 1, -2, 3]), [4]);
    expect(() => ops.rope({ out: Tensor.zeros([4, 8]), inp, positions: negative }, { headDim: 4 })).toThrow(ArgumentError);
    expect(() => ops.rope({ out: Tensor.zeros([4, 8]), inp, positions: negative }, { headDim: 4 })).toThrow('Expected every position >= 0 but received -2 at index 2');
    const arena = Tensor.zeros([64]);
    expect(() => ops.ropeBackward({ dinp: arena.view(4, [4, 8]), dout: arena.view(0, [4, 8]), positions }, { headDim: 4 })).toThrow('Expected dinp to be dout itself or to share no memory with it');
  });
});
