// rope.test.ts (torch): steprl's rope against Hugging Face's LlamaRotaryEmbedding arithmetic
// replayed in PyTorch (fp32 inv_freq and angles, cos/sin of them) and the backward against autograd.
// steprl rounds theta^(2i/D) correctly; PyTorch's CPU pow (SLEEF, 1-ulp) differs from that in about
// 1% of the inv_freq entries by one ulp, and at position p that moves the fp32 angle by up to one ulp
// of p: agreement is 1e-6 only up to a few thousand positions (HF on a GPU, with CUDA's powf,
// differs from HF on the CPU the same way). Given PyTorch's inv_freq bits (options.invFreq), every
// fp32 step is the same as HF's and the rotation agrees within 1e-6 at any position.
import { Tensor, ops } from '../../lib';
import { ropeAngles, ropeScale } from '../reference/rope';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { describeTorch, runTorch } from './harness';

const CASES = [
  { N: 16, heads: 2, D: 8, theta: 10000, maxPos: 16 },
  { N: 256, heads: 4, D: 64, theta: 10000, maxPos: 2048 },
  { N: 128, heads: 2, D: 128, theta: 1000000, maxPos: 8192 },
  { N: 64, heads: 2, D: 128, theta: 1000000, maxPos: 32768 },
  { N: 64, heads: 3, D: 96, theta: 500000, maxPos: 131072 },
];

describeTorch('rope', () => {
  test.each(CASES)('N=$N heads=$heads D=$D theta=$theta positions < $maxPos', ({ N, heads, D, theta, maxPos }) => {
    const rng = new Rng(N + D);
    const inp = rng.floats(N * heads * D), dout = rng.floats(N * heads * D), positions = rng.ints(N, 0, maxPos);
    const torch = runTorch('rope', { inp, dout, positions }, { N, heads, D, theta });
    const p = Tensor.from(positions, [N]);
    const scale = ropeScale(inp, positions, N, heads, D, theta), dscale = ropeScale(dout, positions, N, heads, D, theta);
    const run = (options: { headDim: number; theta: number; invFreq?: Tensor }) => {
      const out = ops.rope({ out: Tensor.zeros([N, heads * D]), inp: Tensor.from(inp, [N, heads * D]), positions: p }, options);
      const dinp = Tensor.zeros([N, heads * D]);
      ops.ropeBackward({ dinp, dout: Tensor.from(dout, [N, heads * D]), positions: p }, options);
      return { out: out.toArray(), dinp: dinp.toArray() };
    };
    // With PyTorch's inv_freq bits: within 1e-6 of HF's rotation (fp32 cos/sin applied in float64,
    // and HF's all-fp32 output), at any position.
    const exact = run({ headDim: D, theta, invFreq: Tensor.from(Float32Array.from(torch.inv_freq), [D / 2]) });
    expectClose(exact.out, torch.out, { rtol: 1e-6, atol: 1e-9, scale });
    expectClose(exact.dinp, torch.dinp, { rtol: 1e-6, atol: 1e-9, scale: dscale });
    expectClose(exact.out, torch.out_fp32, { rtol: 1e-6, atol: 1e-9, scale });
    // From theta (correctly rounded inv_freq, each within one ulp of PyTorch's): the angles agree
    // within one ulp of the largest angle, position * inv_freq[0] < maxPos.
    expectClose(ropeAngles(1, D, theta), torch.inv_freq, { rtol: 1.2e-7, atol: 0 });
    const rtol = Math.max(1e-6, 2 * maxPos * 2 ** -24);
    const own = run({ headDim: D, theta });
    expectClose(own.out, torch.out, { rtol, atol: 1e-9, scale });
    expectClose(own.dinp, torch.dinp, { rtol, atol: 1e-9, scale: dscale });
  });
});
