// matmul.test.ts (torch): steprl's matmul and matmulBackward against F.linear (+ residual) in
// PyTorch float64 with autograd. Tolerances are relative to the magnitude of the summed terms
// (from the float64 reference in test/reference/matmul.ts).
import { Tensor, ops } from '../../lib';
import { matmulBackwardReference, matmulReference } from '../reference/matmul';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { describeTorch, runTorch } from './harness';

const SHAPES = [{ N: 1, C: 1, OC: 1 }, { N: 41, C: 67, OC: 129 }, { N: 256, C: 256, OC: 768 }];

describeTorch('matmul', () => {
  test.each(SHAPES)('N=$N C=$C OC=$OC with bias and residual', ({ N, C, OC }) => {
    const rng = new Rng(N + C + OC);
    const inp = rng.floats(N * C), weight = rng.floats(OC * C, 0.1), bias = rng.floats(OC), residual = rng.floats(N * OC);
    const dout = rng.floats(N * OC, 1.5);
    const out = ops.matmul({ out: Tensor.zeros([N, OC]), inp: Tensor.from(inp, [N, C]), weight: Tensor.from(weight, [OC, C]),
      bias: Tensor.from(bias, [OC]), residual: Tensor.from(residual, [N, OC]) });
    const grads = { dinp: Tensor.zeros([N, C]), dweight: Tensor.zeros([OC, C]), dbias: Tensor.zeros([OC]) };
    ops.matmulBackward({ ...grads, dout: Tensor.from(dout, [N, OC]), inp: Tensor.from(inp, [N, C]), weight: Tensor.from(weight, [OC, C]) });
    const torch = runTorch('matmul', { inp, weight, bias, residual, dout }, { N, C, OC });
    const ref = matmulReference(inp, weight, bias, residual, N, C, OC), dref = matmulBackwardReference(dout, inp, weight, N, C, OC);
    expectClose(out.toArray(), torch.out, { rtol: 2e-5, atol: 1e-9, scale: ref.scale });
    expectClose(grads.dinp.toArray(), torch.dinp, { rtol: 2e-5, atol: 1e-9, scale: dref.dinpScale });
    expectClose(grads.dweight.toArray(), torch.dweight, { rtol: 2e-5, atol: 1e-9, scale: dref.dweightScale });
    expectClose(grads.dbias.toArray(), torch.dbias, { rtol: 2e-5, atol: 1e-9, scale: dref.dbiasScale });
  });
});
