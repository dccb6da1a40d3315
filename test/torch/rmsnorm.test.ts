// rmsnorm.test.ts (torch): steprl's rmsnorm and its backward against Hugging Face LlamaRMSNorm's
// formula in PyTorch float64 with autograd.
import { Tensor, ops } from '../../lib';
import { rmsnormBackwardReference } from '../reference/rmsnorm';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { describeTorch, runTorch } from './harness';

describeTorch('rmsnorm', () => {
  test.each([{ N: 1, C: 1, eps: 1e-6 }, { N: 37, C: 129, eps: 1e-5 }, { N: 256, C: 512, eps: 1e-6 }])('N=$N C=$C eps=$eps', ({ N, C, eps }) => {
    const rng = new Rng(N * C);
    const inp = rng.floats(N * C, 2), weight = rng.floats(C), dout = rng.floats(N * C, 0.7);
    const x = Tensor.from(inp, [N, C]), w = Tensor.from(weight, [C]), rstd = Tensor.zeros([N]);
    const out = ops.rmsnorm({ out: Tensor.zeros([N, C]), rstd, inp: x, weight: w }, { eps });
    const dinp = Tensor.zeros([N, C]), dweight = Tensor.zeros([C]);
    ops.rmsnormBackward({ dinp, dweight, dout: Tensor.from(dout, [N, C]), inp: x, weight: w, rstd });
    const torch = runTorch('rmsnorm', { inp, weight, dout }, { N, C, eps });
    const ref = rmsnormBackwardReference(dout, inp, weight, N, C, eps);
    expectClose(out.toArray(), torch.out, { rtol: 2e-5, atol: 1e-9 });
    expectClose(rstd.toArray(), torch.rstd, { rtol: 2e-5, atol: 1e-9 });
    expectClose(dinp.toArray(), torch.dinp, { rtol: 2e-5, atol: 1e-9, scale: ref.dinpScale });
    expectClose(dweight.toArray(), torch.dweight, { rtol: 2e-5, atol: 1e-9, scale: ref.dweightScale });
  });
});
