// adamw.test.ts (torch): steprl's adamw against torch.optim.AdamW itself (float64) over several
// steps, with weight decay and a gradient scale; gradNorm against torch.linalg.vector_norm.
import { Tensor, ops } from '../../lib';
import { adamwReference } from '../reference/adamw';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { describeTorch, runTorch } from './harness';

describeTorch('adamw', () => {
  test.each([
    { n: 3, lr: 1e-3, weightDecay: 0.01, gradScale: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    { n: 20000, lr: 3e-4, weightDecay: 0.1, gradScale: 0.125, beta1: 0.9, beta2: 0.95, eps: 1e-6 },
  ])('n=$n lr=$lr wd=$weightDecay gradScale=$gradScale', ({ n, ...o }) => {
    const steps = 6, rng = new Rng(n);
    const p0 = rng.floats(n), grads = rng.floats(steps * n, 0.5);
    const params = Tensor.from(p0.slice(), [n]), m = Tensor.zeros([n]), v = Tensor.zeros([n]);
    const torch = runTorch('adamw', { params: p0, grads }, { ...o, n, steps });
    const rp = Float64Array.from(p0), rm = new Float64Array(n), rv = new Float64Array(n);
    const scales = { params: new Float64Array(n), m: new Float64Array(n) };
    for (let s = 0; s < steps; s++) {
      const g = grads.subarray(s * n, (s + 1) * n);
      ops.adamw({ params, grads: Tensor.from(g, [n]), m, v }, { ...o, step: s + 1 });
      adamwReference(rp, g, rm, rv, { ...o, step: s + 1 }, scales);  // for the tolerance scales
      expectClose(params.toArray(), torch[`params_${s}`], { rtol: 2e-5, atol: 1e-12, scale: scales.params });
      expectClose(m.toArray(), torch[`m_${s}`], { rtol: 2e-5, atol: 1e-12, scale: scales.m });
      expectClose(v.toArray(), torch[`v_${s}`], { rtol: 2e-5, atol: 1e-15 });
    }
    expect(Math.abs(ops.gradNorm(Tensor.from(grads.subarray(0, n), [n])) - torch.grad_norm[0]) / torch.grad_norm[0]).toBeLessThan(1e-12);
  });
});
