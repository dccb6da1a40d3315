// prpo_advantage.test.ts (torch): steprl's prpoAdvantages against PRPO advantages written with
// PyTorch float64 segment ops (unique/index_add_), both priors, compat, scattered groups.
import { Tensor, ops } from '../../lib';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { makeGroupIds, makeMask } from '../util/rows';
import { describeTorch, runTorch } from './harness';

const CONFIGS = [
  { prior: 'fixed', mu0: 0.5, sigma0: Math.sqrt(1 / 24), eps: 1e-6, compat: false },
  { prior: 'fixed', mu0: 0.5, sigma0: Math.sqrt(1 / 24), eps: 1e-6, compat: true },
  { prior: 'empirical', mu0: 0.5, sigma0: 1, eps: 1e-6, compat: false },
  { prior: 'empirical', mu0: 0.5, sigma0: 1, eps: 0, compat: true },
] as const;

describeTorch('prpoAdvantages', () => {
  test.each([[4, 6], [40, 100], [256, 333]])('[%i, %i], both priors and compat', (R, T) => {
    const rng = new Rng(R * 5 + T);
    const scores = Float32Array.from({ length: R * T }, () => rng.next());
    const rewards = Float32Array.from({ length: R }, () => (rng.int(0, 2) ? 1 : -1));
    const groupIds = makeGroupIds(rng, R, [1, 4, 8]), mask = makeMask(rng, R, T);
    const torch = runTorch('prpo_advantage', { scores, rewards, groupIds, mask }, { R, T, configs: CONFIGS });
    CONFIGS.forEach((o, k) => {
      const out = ops.prpoAdvantages({ tokenScores: Tensor.from(scores, [R, T]), rewards: Tensor.from(rewards, [R]),
        groupIds: Tensor.from(groupIds, [R]), mask: Tensor.from(mask, [R, T]) }, o);
      expectClose(out.toArray(), torch[`config${k}`], { rtol: 1e-5, atol: 1e-5 });
    });
  });
});
