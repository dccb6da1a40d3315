// gae.test.ts (torch): steprl's gae against TRL's legacy compute_advantages + masked_whiten
// transcribed in PyTorch float64 (γ, λ, whitening on and off, right padding).
import { Tensor, ops } from '../../lib';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { makeMask } from '../util/rows';
import { describeTorch, runTorch } from './harness';

const CONFIGS = [{ gamma: 1, lambda: 0.95, whiten: true }, { gamma: 1, lambda: 0.95, whiten: false }, { gamma: 0.97, lambda: 0.8, whiten: true }];

describeTorch('gae', () => {
  test.each([[2, 7], [16, 128], [33, 515]])('[%i, %i], γ, λ, whitening', (R, T) => {
    const rng = new Rng(R * 19 + T);
    const mask = makeMask(rng, R, T);
    mask[0] = 1; // at least two valid tokens for TRL's whitening
    mask[T > 1 ? 1 : 0] = 1;
    const rewards = rng.floats(R * T, 0.1), values = rng.floats(R * T, 0.5);
    const torch = runTorch('gae', { rewards, values, mask }, { R, T, configs: CONFIGS });
    CONFIGS.forEach((o, k) => {
      const out = ops.gae({ rewards: Tensor.from(rewards, [R, T]), values: Tensor.from(values, [R, T]), mask: Tensor.from(mask, [R, T]) }, o);
      expectClose(out.advantages.toArray(), torch[`advantages${k}`], { rtol: 1e-5, atol: 1e-5 });
      expectClose(out.returns.toArray(), torch[`returns${k}`], { rtol: 1e-5, atol: 1e-5 });
    });
  });
});
