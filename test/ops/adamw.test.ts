// adamw.test.ts: adamw against the float64 AdamW over several steps (bias corrections, decoupled
// weight decay, gradScale), buffers of any shape including views (aligned alike or not), gradNorm
// in fp64 and its determinism (thread counts on the cpu, repeated runs on cuda), on every device;
// cuda's step equals the cpu's bit for bit (same operations, no FMA contraction); error paths.
import { ArgumentError, DeviceError, ShapeError, Tensor, ops, setNumThreads } from '../../lib';
import { adamwReference, gradNormReference } from '../reference/adamw';
import { expectClose } from '../util/close';
import { describeOn, describeTargets, onTarget } from '../util/devices';
import { Rng } from '../util/random';

describeTargets('adamw', (target) => {
  const device = target.device;
  test.each([
    { n: 1, lr: 1e-3, weightDecay: 0, gradScale: 1 },
    { n: 1001, lr: 3e-4, weightDecay: 0.1, gradScale: 0.25 },
    { n: 70000, lr: 1e-2, weightDecay: 0.01, gradScale: 1 },
  ])('five steps match float64: n=$n lr=$lr wd=$weightDecay gradScale=$gradScale', ({ n, lr, weightDecay, gradScale }) => onTarget(target, () => {
    const rng = new Rng(n);
    const p0 = rng.floats(n);
    const params = Tensor.from(p0.slice(), [n], { device }), m = Tensor.zeros([n], { device }), v = Tensor.zeros([n], { device });
    const rp = Float64Array.from(p0), rm = new Float64Array(n), rv = new Float64Array(n);
    const scales = { params: new Float64Array(n), m: new Float64Array(n) };
    for (let step = 1; step <= 5; step++) {
      const g = rng.floats(n, step % 2 === 0 ? 0.01 : 2);
      ops.adamw({ params, grads: Tensor.from(g, [n], { device }), m, v }, { lr, weightDecay, step, gradScale, beta1: 0.9, beta2: 0.95, eps: 1e-8 });
      adamwReference(rp, g, rm, rv, { lr, weightDecay, step, gradScale, beta1: 0.9, beta2: 0.95, eps: 1e-8 }, scales);
    }
    // Relative to the terms behind each value: m sums gradients of both signs and can cancel.
    expectClose(params.toArray(), rp, { rtol: 2e-5, atol: 1e-12, scale: scales.params });
    expectClose(m.toArray(), rm, { rtol: 2e-5, atol: 1e-12, scale: scales.m });
    expectClose(v.toArray(), rv, { rtol: 2e-5, atol: 1e-12 });
  }));

  test('any shapes with the same element count, e.g. views of one parameter buffer', () => {
    const arena = Tensor.zeros([40], { device });
    const params = arena.view(0, [2, 5]).fill(1), m = arena.view(10, [10]), v = arena.view(20, [5, 2]);
    ops.adamw({ params, grads: Tensor.from(new Float32Array(10).fill(0.5), [10], { device }), m, v }, { lr: 0.1, step: 1 });
    expect(params.toArray()[0]).toBeCloseTo(0.9, 5);
    expect(params.toArray()[9]).toBeCloseTo(0.9, 5);
  });

  test('gradNorm is the fp64 L2 norm, also of odd lengths and offsets', () => {
    const rng = new Rng(12);
    for (const [n, offset] of [[1, 0], [7, 1], [16385, 3], [40000, 0]]) {
      const g = rng.floats(n, 0.1);
      const arena = Tensor.zeros([n + offset], { device });
      const grads = arena.view(offset, [n]).copyFrom(Tensor.from(g, [n], { device }));
      expect(Math.abs(ops.gradNorm(grads) - gradNormReference(g)) / gradNormReference(g)).toBeLessThan(1e-12);
    }
    expect(ops.gradNorm(Tensor.zeros([0], { device }))).toBe(0);
  });
});

describeOn('cuda', 'adamw on cuda', () => {
  const device = 'cuda' as const;
  test('the step equals the cpu bit for bit, also on buffers aligned differently; gradNorm repeats itself', () => {
    const rng = new Rng(5), n = 5003;
    const p0 = rng.floats(n), g = rng.floats(n, 0.3), m0 = rng.floats(n, 0.01), v0 = Float32Array.from(rng.floats(n, 0.01), (x) => x * x);
    const options = { lr: 3e-4, weightDecay: 0.1, step: 7, gradScale: 0.5, beta1: 0.9, beta2: 0.95, eps: 1e-8 };
    const cpu = { params: Tensor.from(p0.slice(), [n]), grads: Tensor.from(g, [n]), m: Tensor.from(m0.slice(), [n]), v: Tensor.from(v0.slice(), [n]) };
    ops.adamw(cpu, options);
    for (const offsets of [[0, 0, 0, 0], [1, 1, 1, 1], [0, 1, 2, 3]]) {
      const arena = Tensor.zeros([4 * n + 16], { device });
      const at = (k: number, data: Float32Array) => arena.view(k * (n + 2) + offsets[k], [n]).copyFrom(Tensor.from(data, [n], { device }));
      const gpu = { params: at(0, p0), grads: at(1, g), m: at(2, m0), v: at(3, v0) };
      ops.adamw(gpu, options);
      for (const key of ['params', 'm', 'v'] as const)
        expect(Buffer.compare(Buffer.from(gpu[key].toArray().buffer), Buffer.from(cpu[key].toArray().buffer))).toBe(0);
    }
    const grads = Tensor.from(rng.floats(100001), [100001], { device });
    expect(ops.gradNorm(grads)).toBe(ops.gradNorm(grads));
    expect(() => ops.adamw({ ...cpu, grads: Tensor.zeros([n], { device }) }, options)).toThrow(DeviceError);
  });
});

describeOn('cpu', 'adamw behaviour', () => {
  test('gradNorm is the fp64 L2 norm and does not depend on the thread count', () => {
    const rng = new Rng(11), n = 300001;
    const g = rng.floats(n, 1e-3);
    const grads = Tensor.from(g, [n]);
    setNumThreads(1);
    const one = ops.gradNorm(grads);
    setNumThreads(0);
    expect(ops.gradNorm(grads)).toBe(one);
    expect(Math.abs(one - gradNormReference(g)) / gradNormReference(g)).toBeLessThan(1e-12);
    expect(ops.gradNorm(Tensor.zeros([0]))).toBe(0);
  });
});

describeOn('cpu', 'adamw errors', () => {
  const t = () => ({ params: Tensor.zeros([4]), grads: Tensor.zeros([4]), m: Tensor.zeros([4]), v: Tensor.zeros([4]) });
  test('options and shapes', () => {
    expect(() => ops.adamw(t(), { step: 1 } as never)).toThrow('Expected a finite number >= 0 for options.lr but received undefined');
    expect(() => ops.adamw(t(), { lr: 1e-3 } as never)).toThrow('Expected an integer >= 1 for options.step but received undefined');
    expect(() => ops.adamw(t(), { lr: 1e-3, step: 0 })).toThrow('Expected an integer >= 1 for options.step but received 0 of type number');
    expect(() => ops.adamw(t(), { lr: 1e-3, step: 1, beta2: 1 })).toThrow(ArgumentError);
    expect(() => ops.adamw(t(), { lr: 1e-3, step: 1, beta2: 1 })).toThrow('Expected a number in [0, 1) for options.beta2 but received 1 of type number');
    expect(() => ops.adamw({ ...t(), v: Tensor.zeros([5]) }, { lr: 1e-3, step: 1 })).toThrow(ShapeError);
    expect(() => ops.adamw({ ...t(), v: Tensor.zeros([5]) }, { lr: 1e-3, step: 1 })).toThrow('Expected 4 elements ([4]) for v');
    const shared = Tensor.zeros([4]);
    expect(() => ops.adamw({ ...t(), m: shared, v: shared }, { lr: 1e-3, step: 1 })).toThrow('Expected m to share no memory with v');
    expect(() => ops.adamw(t(), { lr: 1e-3, step: 1, momentum: 0.9 } as never)).toThrow('unknown option "momentum"');
  });
});
