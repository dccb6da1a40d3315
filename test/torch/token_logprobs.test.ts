// token_logprobs.test.ts (torch): steprl's tokenLogprobs and its backward against PyTorch's
// log_softmax().gather() and Categorical entropy, gradients by autograd, in float64.
import { Tensor, fromBFloat16, ops, toBFloat16 } from '../../lib';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { tokenLogprobsBackwardReference } from '../reference/token_logprobs';
import { describeTorch, runTorch } from './harness';

const SHAPES = [
  { R: 1, V: 1, temperature: 1 },
  { R: 3, V: 7, temperature: 0.8 },
  { R: 41, V: 1271, temperature: 1 },
  { R: 8, V: 32768, temperature: 1.2 },
];

describeTorch('tokenLogprobs', () => {
  test.each(SHAPES)('R=$R V=$V tau=$temperature, float32 and bfloat16, with -inf logits', ({ R, V, temperature }) => {
    const rng = new Rng(R + V);
    const z = rng.floats(R * V, 3);
    for (let r = 0; r < R && V > 2; r++) z[r * V + rng.int(0, V)] = -Infinity;
    const t = rng.ints(R, 0, V);
    for (let r = 0; r < R; r++) if (z[r * V + t[r]] === -Infinity && r > 0) z[r * V + t[r]] = 1;
    const g = rng.floats(R, 1.3), gh = rng.floats(R, 0.7);
    for (const dtype of ['float32', 'bfloat16'] as const) {
      const data = dtype === 'float32' ? z : toBFloat16(z);
      const logits = Tensor.from(data, [R, V], { dtype }), targets = Tensor.from(t, [R]);
      const out = ops.tokenLogprobs(logits, targets, { temperature, entropy: true });
      const dz = ops.tokenLogprobsBackward(logits, targets, out.logZ, Tensor.from(g, [R]), {
        temperature, dentropy: Tensor.from(gh, [R]),
      });
      const torch = runTorch('token_logprobs', { logits: data, targets: t, dlogprobs: g, dentropy: gh }, { R, V, temperature });
      const values = dtype === 'float32' ? z : fromBFloat16(data as Uint16Array);
      // Cancellation-aware scale from the float64 reference (see test/util/close.ts).
      const { scale } = tokenLogprobsBackwardReference(values, t, g, gh, R, V, temperature);
      expectClose(out.logprobs.toArray(), torch.logprobs, { rtol: 2e-5, atol: 2e-5 });
      expectClose(out.entropy!.toArray(), torch.entropy, { rtol: 2e-5, atol: 2e-5 });
      expectClose(dz.toArray(), torch.dlogits, { rtol: 2e-5, atol: 1e-9, scale });
    }
  });
});
