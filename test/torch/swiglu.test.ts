// swiglu.test.ts (torch): steprl's swiglu and its backward against F.silu(gate) * up in PyTorch
// float64 with autograd.
import { Tensor, ops } from '../../lib';
import { swigluBackwardReference } from '../reference/swiglu';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { describeTorch, runTorch } from './harness';

describeTorch('swiglu', () => {
  test.each([{ N: 1, F: 1 }, { N: 33, F: 129 }, { N: 128, F: 688 }])('N=$N F=$F', ({ N, F }) => {
    const rng = new Rng(N + F);
    const inp = rng.floats(N * 2 * F, 3), dout = rng.floats(N * F);
    const x = Tensor.from(inp, [N, 2 * F]);
    const out = ops.swiglu({ out: Tensor.zeros([N, F]), inp: x });
    const dinp = Tensor.zeros([N, 2 * F]);
    ops.swigluBackward({ dinp, dout: Tensor.from(dout, [N, F]), inp: x });
    const torch = runTorch('swiglu', { inp, dout }, { N, F });
    expectClose(out.toArray(), torch.out, { rtol: 2e-5, atol: 1e-30 });
    expectClose(dinp.toArray(), torch.dinp, { rtol: 2e-5, atol: 1e-30, scale: swigluBackwardReference(dout, inp, N, F).scale });
  });
});
