// adamw.test.ts: adamw against the float64 AdamW over several steps (bias corrections, decoupled
// weight decay, gradScale), buffers of any shape including views, gradNorm in fp64 and its
// thread-count determinism, and the error paths.
import { ArgumentError, ShapeError, Tensor, ops, setNumThreads } from '../../lib';
import { adamwReference, gradNormReference } from '../reference/adamw';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';

describe('adamw on the cpu', () => {
  test.each([
    { n: 1, lr: 1e-3, weightDecay: 0, gradScale: 1 },
    { n: 1001, lr: 3e-4, weightDecay: 0.1, gradScale: 0.25 },
    { n: 70000, lr: 1e-2, weightDecay: 0.01, gradScale: 1 },
  ])('five steps match float64: n=$n lr=$lr wd=$weightDecay gradScale=$gradScale', ({ n, lr, weightDecay, gradScale }) => {
    const rng = new Rng(n);
    const p0 = rng.floats(n);
    const params = Tensor.from(p0.slice(), [n]), m = Tensor.zeros([n]), v = Tensor.zeros([n]);
    const rp = Float64Array.from(p0), rm = new Float64Array(n), rv = new Float64Array(n);
    const scales = { params: new Float64Array(n), m: new Float64Array(n) };
    for (let step = 1; step <= 5; step++) {
      const g = rng.floats(n, step % 2 === 0 ? 0.01 : 2);
      ops.adamw({ params, grads: Tensor.from(g, [n]), m, v }, { lr, weightDecay, step, gradScale, beta1: 0.9, beta2: 0.95, eps: 1e-8 });
      adamwReference(rp, g, rm, rv, { lr, weightDecay, step, gradScale, beta1: 0.9, beta2: 0.95, eps: 1e-8 }, scales);
    }
    // Relative to the terms behind each value: m sums gradients of both signs and can cancel.
    expectClose(params.toArray(), rp, { rtol: 2e-5, atol: 1e-12, scale: scales.params });
    expectClose(m.toArray(), rm, { rtol: 2e-5, atol: 1e-12, scale: scales.m });
    expectClose(v.toArray(), rv, { rtol: 2e-5, atol: 1e-12 });
  });

  test('any shapes with the same element count, e.g. views of one parameter buffer', () => {
    const arena = Tensor.zeros([40]);
    const params = arena.view(0, [2, 5]).fill(1), m = arena.view(10, [10]), v = arena.view(20, [5, 2]);
    ops.adamw({ params, grads: Tensor.from(new Float32Array(10).fill(0.5), [10]), m, v }, { lr: 0.1, step: 1 });
    expect(params.toArray()[0]).toBeCloseTo(0.9, 5);
  });

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

describe('adamw errors', () => {
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
