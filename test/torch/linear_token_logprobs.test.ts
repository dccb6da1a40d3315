// linear_token_logprobs.test.ts (torch): steprl's fused projection + token log-probs (forward and
// backward, with gathered rows, entropy and temperature) against PyTorch's unfused
// h[rows] @ W.T -> log_softmax -> gather, gradients by autograd, in float64.
import { Tensor, ops } from '../../lib';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { linearTokenLogprobsBackwardReference } from '../reference/linear_token_logprobs';
import { describeTorch, runTorch } from './harness';

const SHAPES = [
  { M: 1, N: 1, C: 1, V: 1, chunk: 1, temperature: 1 },
  { M: 9, N: 6, C: 16, V: 77, chunk: 10, temperature: 0.8 },
  { M: 64, N: 40, C: 48, V: 3001, chunk: 512, temperature: 1.1 },
];

describeTorch('linearTokenLogprobs', () => {
  test.each(SHAPES)('M=$M N=$N C=$C V=$V chunk=$chunk tau=$temperature', ({ M, N, C, V, chunk, temperature }) => {
    const rng = new Rng(M + N + V);
    const hidden = rng.floats(M * C, 1), weight = rng.floats(V * C, 1.5 / Math.sqrt(C));
    const targets = rng.ints(N, 0, V);
    const order = Array.from({ length: M }, (_, i) => i);
    for (let i = M - 1; i > 0; i--) {
      const j = rng.int(0, i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    const rows = Int32Array.from(order.slice(0, N));
    const g = rng.floats(N, 1.3), gh = rng.floats(N, 0.7);
    const h = Tensor.from(hidden, [M, C]), w = Tensor.from(weight, [V, C]), t = Tensor.from(targets, [N]);
    const r = Tensor.from(rows, [N]);
    const opts = { temperature, chunkSize: chunk, rows: r };
    const out = ops.linearTokenLogprobs(h, w, t, { ...opts, entropy: true });
    const dweight = Tensor.zeros([V, C]);
    const dhidden = ops.linearTokenLogprobsBackward(h, w, t, out.logZ, Tensor.from(g, [N]),
      { ...opts, entropy: out.entropy, dentropy: Tensor.from(gh, [N]), dweight });
    const torch = runTorch('linear_token_logprobs', { hidden, weight, targets, rows, dlogprobs: g, dentropy: gh },
      { M, N, C, V, temperature });
    const ref = linearTokenLogprobsBackwardReference({ hidden, weight, targets, rows, M, N, C, V, temperature }, g, gh);
    expectClose(out.logprobs.toArray(), torch.logprobs, { rtol: 2e-5, atol: 2e-5 });
    expectClose(out.entropy!.toArray(), torch.entropy, { rtol: 2e-5, atol: 2e-5 });
    expectClose(dhidden.toArray(), torch.dhidden, { rtol: 2e-5, atol: 1e-7, scale: ref.dhiddenScale });
    expectClose(dweight.toArray(), torch.dweight, { rtol: 2e-5, atol: 1e-7, scale: ref.dweightScale });
  });
});
