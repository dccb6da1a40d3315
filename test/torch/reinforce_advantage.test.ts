// reinforce_advantage.test.ts (torch): steprl's reinforceAdvantages against OpenRLHF's REINFORCE++ /
// REINFORCE++-baseline steps transcribed in PyTorch float64 (group-mean baseline, KL folded into
// the reward, cumulative returns, batch normalization), over γ, β, right padding and group sizes.
import { Tensor, ops } from '../../lib';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { makeGroupIds, makeMask } from '../util/rows';
import { describeTorch, runTorch } from './harness';

const CONFIGS = [
  { baseline: false, klCoef: 0, gamma: 1 }, { baseline: true, klCoef: 0, gamma: 1 },
  { baseline: false, klCoef: 0.01, gamma: 1 }, { baseline: true, klCoef: 0.1, gamma: 0.95 },
];

describeTorch('reinforceAdvantages', () => {
  test.each([[2, 7], [16, 128], [33, 515], [40, 1]])('[%i, %i], baseline, β, γ', (R, T) => {
    const rng = new Rng(R * 23 + T);
    const mask = makeMask(rng, R, T);
    mask[0] = 1;
    const rewards = Float32Array.from({ length: R }, () => rng.int(0, 2));
    const oldLogprobs = Float32Array.from({ length: R * T }, () => -Math.abs(rng.normal()) * 3);
    const refLogprobs = Float32Array.from(oldLogprobs, (l) => l + rng.normal() * 0.3);
    const groupIds = makeGroupIds(rng, R);
    const torch = runTorch('reinforce_advantage', { rewards, mask, oldLogprobs, refLogprobs, groupIds }, { R, T, configs: CONFIGS });
    CONFIGS.forEach((c, k) => {
      const out = ops.reinforceAdvantages({
        rewards: Tensor.from(rewards, [R]), mask: Tensor.from(mask, [R, T]), groupIds: c.baseline ? Tensor.from(groupIds, [R]) : undefined,
        oldLogprobs: Tensor.from(oldLogprobs, [R, T]), refLogprobs: Tensor.from(refLogprobs, [R, T]),
      }, { klCoef: c.klCoef, gamma: c.gamma });
      expectClose(out.advantages.toArray(), torch[`advantages${k}`], { rtol: 1e-5, atol: 1e-5 });
      expectClose(out.returns.toArray(), torch[`returns${k}`], { rtol: 1e-5, atol: 1e-5 });
    });
  });
});
