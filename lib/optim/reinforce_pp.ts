// reinforce_pp.ts: REINFORCE++ and REINFORCE++-baseline (Hu et al., arXiv 2501.03262; OpenRLHF's
// "reinforce" / "reinforce_baseline"; docs/ALGORITHMS-baselines.md §B2): no critic; the k1 KL to the
// reference, −β·(ℓold − ℓref), is folded into every token's reward, the outcome reward (minus its
// group mean for the baseline variant) lands on the last token, returns are suffix sums, and the
// advantages are those returns normalized over the whole batch. Loss: the clipped surrogate,
// token-mean, no KL term (it is in the reward).
import * as ops from '../ops/index';
import { Tensor } from '../tensor';
import { DEFAULT_LOSS, deviceAdvantages, lossModeClips, type Algorithm, type LossSettings } from './algorithm';
import { tensorOf, type RolloutBatch } from './batch';

export interface ReinforcePPOptions extends Partial<LossSettings> {
  /** Centre each reward on its group's mean first (REINFORCE++-baseline). Default false. */
  baseline?: boolean;
  /** β of the KL folded into the per-token reward (0: no reference model needed). Default 0.01. */
  rewardKlCoef?: number;
  /** γ of the returns. Default 1. */
  gamma?: number;
}

export function reinforcePP(options: ReinforcePPOptions = {}): Algorithm {
  const { baseline = false, rewardKlCoef = 0.01, gamma = 1, ...lossOptions } = options;
  const loss: LossSettings = { ...DEFAULT_LOSS, ...lossModeClips(lossOptions), ...lossOptions };
  return {
    name: baseline ? 'reinforce++-baseline' : 'reinforce++',
    needs: { ref: rewardKlCoef > 0 || loss.klCoef > 0 },
    loss,
    advantages(batch: RolloutBatch, context) {
      const { R, T } = batch;
      const device = context?.device ?? 'cpu';  // the advantage op runs on the policy's device
      const kl = rewardKlCoef > 0;
      const out = ops.reinforceAdvantages(
        {
          rewards: Tensor.from(batch.rewards, [R], { device }), mask: tensorOf(batch, 'mask', device, [R, T])!,
          groupIds: baseline ? Tensor.from(batch.groupIds, [R], { device }) : undefined,
          oldLogprobs: kl ? tensorOf(batch, 'oldLogprobs', device, [R, T]) : undefined,
          refLogprobs: kl ? tensorOf(batch, 'refLogprobs', device, [R, T]) : undefined,
        },
        { klCoef: rewardKlCoef, gamma },
      );
      out.returns.dispose();
      if (device !== 'cpu') return deviceAdvantages({ advantages: out.advantages }, { scores: Float32Array.from(batch.rewards) });
      const advantages = out.advantages.toArray() as Float32Array;
      out.advantages.dispose();
      return { advantages, scores: Float32Array.from(batch.rewards) };
    },
  };
}
