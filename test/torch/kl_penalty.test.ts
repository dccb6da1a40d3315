// kl_penalty.test.ts (torch): steprl's klPenalty against the KL estimators written in PyTorch
// float64 (torch.clamp/expm1, gradients by autograd, k3+ by a detach straight-through).
import { Tensor, ops } from '../../lib';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { makeKlInputs } from '../reference/kl_penalty';
import { describeTorch, runTorch } from './harness';

const SHAPES = [[1], [5, 7], [41, 1271], [256, 1024]].map((shape) => ({ shape, name: shape.join('x') }));
const ESTIMATORS = ['k1', 'k2', 'k3', 'k3+', 'abs'] as const;

describeTorch('klPenalty', () => {
  test.each(SHAPES)('shape $name: every estimator', ({ shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const { logprobs, ref } = makeKlInputs(new Rng(3 * n + 1), n);
    const torch = runTorch('kl_penalty', { logprobs, ref });
    for (const estimator of ESTIMATORS) {
      const out = ops.klPenalty(Tensor.from(logprobs, shape), Tensor.from(ref, shape), { estimator });
      expectClose(out.kl.toArray(), torch[`kl_${estimator}`], { rtol: 2e-5, atol: 1e-30 });
      expectClose(out.dkl.toArray(), torch[`dkl_${estimator}`], { rtol: 2e-5, atol: 1e-30 });
    }
  });
});
