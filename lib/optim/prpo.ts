// prpo.ts: PRPO (arXiv 2601.07182; ALGORITHMS.md §5): responses are segmented at entropy spikes,
// a PRM scores each segment, the scores are normalized into token advantages (fixed triangular
// prior, or empirical group statistics) and shifted by the outcome advantage β_i = r_i − mean_g r
// (r = ±1), which keeps correct rollouts pushed up on average. GRPO loss with k3 KL β = 0.001.
import * as ops from '../ops/index';
import { Tensor } from '../tensor';
import { DEFAULT_LOSS, lossModeClips, type Algorithm, type LossSettings } from './algorithm';
import type { RolloutBatch } from './batch';

export interface PRPOOptions extends Partial<LossSettings> {
  prior?: 'fixed' | 'empirical';
  maxBranches?: number;
  minGap?: number;
  compat?: boolean;
}

/** s[i,t]: the PRM score of the segment token t belongs to. */
export function tokenScores(batch: RolloutBatch): Float32Array {
  const { R, T } = batch;
  const out = new Float32Array(R * T);
  for (let r = 0; r < R; r++) {
    const { ends } = batch.steps![r], scores = batch.stepScores![r];
    let k = 0;
    for (let t = 0; t < batch.lengths[r]; t++) {
      out[r * T + t] = scores[k];
      if (t === ends[k]) k++;
    }
  }
  return out;
}

export function prpo(options: PRPOOptions = {}): Algorithm & { readonly segmentation: { maxBranches: number; minGap: number } } {
  const loss: LossSettings = { ...DEFAULT_LOSS, klCoef: 0.001, ...lossModeClips(options), ...options };
  return {
    name: 'prpo',
    needs: { ref: loss.klCoef > 0, steps: 'entropy', prm: true },
    segmentation: { maxBranches: options.maxBranches ?? 5, minGap: options.minGap ?? 10 },
    loss,
    advantages(batch: RolloutBatch) {
      const { R, T } = batch;
      const outcome = Float32Array.from(batch.verdicts, (v) => (v.correct ? 1 : -1));
      const advantages = ops.prpoAdvantages(
        { tokenScores: Tensor.from(tokenScores(batch), [R, T]), rewards: Tensor.from(outcome, [R]), groupIds: Tensor.from(batch.groupIds, [R]), mask: Tensor.from(batch.mask, [R, T]) },
        { prior: options.prior ?? 'fixed', compat: options.compat ?? false },
      );
      const out = advantages.toArray() as Float32Array;
      advantages.dispose();
      return { advantages: out, scores: outcome };
    },
  };
}
