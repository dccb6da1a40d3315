// linear_policy_loss.test.ts (torch): steprl's one-pass lm_head + clipped policy loss against
// PyTorch's unfused h[rows] @ W.T -> log_softmax -> gather -> clipped surrogate (seq-mean-token-mean),
// gradients by autograd, in float64.
import { Tensor, ops } from '../../lib';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { linearTokenLogprobsReference } from '../reference/linear_token_logprobs';
import { describeTorch, runTorch } from './harness';

const SHAPES = [
  { M: 14, R: 2, T: 5, C: 16, V: 77, chunk: 10, temperature: 0.8, blockRows: 3 },
  { M: 64, R: 5, T: 8, C: 48, V: 3001, chunk: 512, temperature: 1.1, blockRows: 1024 },
];

describeTorch('linearPolicyLoss', () => {
  test.each(SHAPES)('M=$M R=$R T=$T C=$C V=$V chunk=$chunk tau=$temperature blockRows=$blockRows', (s) => {
    const { M, R, T, C, V, chunk, temperature, blockRows } = s;
    const N = R * T;
    const rng = new Rng(M + N + V);
    const hidden = rng.floats(M * C, 1), weight = rng.floats(V * C, 1.5 / Math.sqrt(C));
    const targets = rng.ints(N, 0, V);
    const order = Array.from({ length: M }, (_, i) => i);
    for (let i = M - 1; i > 0; i--) {
      const j = rng.int(0, i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    const rows = Int32Array.from(order.slice(0, N));
    // ℓold around ℓ: ratios inside and beyond the clip range, none within 1e-3 of its edges.
    const lp = linearTokenLogprobsReference({ hidden, weight, targets, rows, N, C, V, temperature }).logprobs;
    const old = new Float32Array(N), advantages = new Float32Array(N), mask = new Float32Array(N);
    for (let i = 0; i < N; i++) {
      let d = rng.uniform(-0.5, 0.5);
      while (Math.abs(Math.exp(d) - 0.8) < 1e-3 || Math.abs(Math.exp(d) - 1.2) < 1e-3) d = rng.uniform(-0.5, 0.5);
      old[i] = lp[i] - d;
      advantages[i] = rng.normal();
      mask[i] = i % T < T - (i / T | 0) % 3 ? 1 : 0;  // rows of different lengths
    }
    const dweight = Tensor.zeros([V, C]);
    const out = ops.linearPolicyLoss(Tensor.from(hidden, [M, C]), Tensor.from(weight, [V, C]), Tensor.from(targets, [N]),
      { oldLogprobs: Tensor.from(old, [R, T]), advantages: Tensor.from(advantages, [R, T]), mask: Tensor.from(mask, [R, T]) },
      { temperature, chunkSize: chunk, rows: Tensor.from(rows, [N]), dweight, blockRows, aggregation: 'seq-mean-token-mean' });
    const torch = runTorch('linear_policy_loss', { hidden, weight, targets, rows, old, advantages, mask },
      { M, R, T, C, V, temperature, clipLow: 0.2, clipHigh: 0.2 });
    expectClose(out.logprobs.toArray(), torch.logprobs, { rtol: 2e-5, atol: 2e-5 });
    expectClose([out.loss], torch.loss, { rtol: 1e-5, atol: 1e-6 });
    const scale = (a: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i])); return m; };
    expectClose(out.dhidden.toArray(), torch.dhidden, { rtol: 1e-4, atol: 1e-5 * scale(torch.dhidden) });
    expectClose(dweight.toArray(), torch.dweight, { rtol: 1e-4, atol: 1e-5 * scale(torch.dweight) });
  });
});
