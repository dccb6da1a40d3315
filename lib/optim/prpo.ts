// prpo.ts: PRPO (arXiv 2601.07182; ALGORITHMS.md §5): responses are segmented at entropy spikes,
// a PRM scores each segment, the scores are normalized into token advantages (fixed triangular
// prior, or empirical group statistics) and shifted by the outcome advantage β_i = r_i − mean_g r
// (r = ±1), which keeps correct rollouts pushed up on average. GRPO loss with k3 KL β = 0.001.
// `splitter` replaces the entropy segmentation by any step splitter the user names.
import * as ops from '../ops/index';
import { Tensor } from '../tensor';
import type { StepSplitter } from '../reward/splitters';
import { DEFAULT_LOSS, deviceAdvantages, lossModeClips, type Algorithm, type LossSettings } from './algorithm';
import { tensorOf, type RolloutBatch } from './batch';
import { residualMeans } from './device_math';
import { maskedAbsResidual, maskedRowAbsMean, signalStats } from './signal';

export interface PRPOOptions extends Partial<LossSettings> {
  prior?: 'fixed' | 'empirical';
  maxBranches?: number;
  minGap?: number;
  compat?: boolean;
  /** How responses are split into the segments the PRM scores: entropy spikes (the paper's, default) or any splitter. */
  splitter?: StepSplitter | 'entropy';
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
    needs: { ref: loss.klCoef > 0, steps: options.splitter ?? 'entropy', prm: true },
    segmentation: { maxBranches: options.maxBranches ?? 5, minGap: options.minGap ?? 10 },
    loss,
    advantages(batch: RolloutBatch, context) {
      const { R, T } = batch;
      const device = context?.device ?? 'cpu';
      const outcome = Float32Array.from(batch.verdicts, (v) => (v.correct ? 1 : -1));
      const inputs = {
        tokenScores: Tensor.from(tokenScores(batch), [R, T], { device }), rewards: Tensor.from(outcome, [R], { device }),
        groupIds: Tensor.from(batch.groupIds, [R], { device }), mask: tensorOf(batch, 'mask', device, [R, T])!,
      };
      const advantages = ops.prpoAdvantages(inputs, { prior: options.prior ?? 'fixed', compat: options.compat ?? false });
      for (const t of [inputs.tokenScores, inputs.rewards, inputs.groupIds]) t.dispose();
      // Outcome part β_i = r_i − mean_g r; process part z = A − β (the PRM prior-normalized score).
      const sums = new Map<number, [number, number]>();
      batch.groupIds.forEach((g, r) => {
        const s = sums.get(g) ?? [0, 0];
        sums.set(g, [s[0] + outcome[r], s[1] + 1]);
      });
      const beta = Float32Array.from(outcome, (x, r) => {
        const [sum, n] = sums.get(batch.groupIds[r])!;
        return n > 1 ? x - sum / n : 0;
      });
      if (device !== 'cpu') {
        // The same means on the device (device_math.ts residualMeans): one float read.
        const signal = signalStats(...residualMeans(advantages, beta, batch.lengths, T, inputs.mask));
        return deviceAdvantages({ advantages }, { scores: outcome, signal });
      }
      const out = advantages.toArray() as Float32Array;
      advantages.dispose();
      const signal = signalStats(maskedAbsResidual(out, beta, batch.mask, T), maskedRowAbsMean(beta, batch.mask, T));
      return { advantages: out, scores: outcome, signal };
    },
  };
}
