// gspo.ts: GSPO, Group Sequence Policy Optimization (Zheng et al., arXiv 2507.18071;
// docs/ALGORITHMS-baselines.md §B3): GRPO's group-normalized outcome advantages with the importance
// ratio taken per sequence, s_i = exp(mean over the response of (ℓ − ℓold)), clipped per sequence
// in a much narrower range (3e-4 below, 4e-4 above), loss averaged per sequence
// (seq-mean-token-mean), no KL term. `variant: 'gspo-token'` gives every token its own advantage
// with the same sequence ratio (the paper's GSPO-token).
import { DEFAULT_LOSS, lossModeClips, type Algorithm, type LossSettings } from './algorithm';
import { broadcastRows, type RolloutBatch } from './batch';
import { outcomeAdvantages } from './grpo';

export interface GSPOOptions extends Partial<LossSettings> {
  variant?: 'gspo' | 'gspo-token';
}

export function gspo(options: GSPOOptions = {}): Algorithm {
  const { variant = 'gspo', ...lossOptions } = options;
  const withMode = { lossMode: variant, ...lossOptions };
  const loss: LossSettings = { ...DEFAULT_LOSS, aggregation: 'seq-mean-token-mean', ...lossModeClips(withMode), ...withMode };
  return {
    name: variant,
    needs: { ref: loss.klCoef > 0 },
    loss,
    advantages(batch: RolloutBatch) {
      const perRow = outcomeAdvantages(batch.rewards, batch.groupIds);
      return { advantages: broadcastRows(perRow, batch.mask, batch.T), scores: Float32Array.from(batch.rewards) };
    },
  };
}
