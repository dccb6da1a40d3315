// process_grpo.ts: process-supervised GRPO (DeepSeekMath §4.1.3; ALGORITHMS.md §1.6): the PRM's
// step rewards of a whole group are normalized together, and a token's advantage is the sum of the
// normalized rewards of the steps that end at or after it.
import * as ops from '../ops/index';
import { Tensor } from '../tensor';
import { newlineSplitter, type StepSplitter } from '../reward/splitters';
import { DEFAULT_LOSS, lossModeClips, type Algorithm, type LossSettings } from './algorithm';
import { broadcastRows, ragged, tensorOf, type RolloutBatch } from './batch';
import { outcomeAdvantages } from './grpo';
import { correlation, maskedAbsMean, signalStats } from './signal';

export interface ProcessGRPOOptions extends Partial<LossSettings> {
  splitter?: StepSplitter;
  eps?: number;
}

export function processGrpo(options: ProcessGRPOOptions = {}): Algorithm {
  const loss: LossSettings = { ...DEFAULT_LOSS, klCoef: 0.001, ...lossModeClips(options), ...options };
  return {
    name: 'process-grpo',
    needs: { ref: loss.klCoef > 0, steps: options.splitter ?? newlineSplitter, prm: true },
    loss,
    advantages(batch: RolloutBatch, context) {
      const { R, T } = batch;
      const device = context?.device ?? 'cpu';  // the advantage op runs on the policy's device
      const rewards = ragged(batch.stepScores!);
      const ends = ragged(batch.steps!.map((s) => s.ends));
      const advantages = ops.processGrpoAdvantages(
        {
          stepRewards: Tensor.from(rewards.values, [rewards.values.length], { device }), stepEnds: Tensor.from(Int32Array.from(ends.values), [ends.values.length], { device }),
          stepOffsets: Tensor.from(rewards.offsets, [R + 1], { device }), groupIds: Tensor.from(batch.groupIds, [R], { device }), mask: tensorOf(batch, 'mask', device, [R, T])!,
        },
        { eps: options.eps ?? 1e-6 },
      );
      const out = advantages.toArray() as Float32Array;
      advantages.dispose();
      // Step advantages against the outcome advantages GRPO would give this batch, and their agreement.
      const outcome = broadcastRows(outcomeAdvantages(batch.rewards, batch.groupIds), batch.mask, T);
      const signal = signalStats(maskedAbsMean(out, batch.mask), maskedAbsMean(outcome, batch.mask), { outcomeCorrelation: correlation(out, outcome, batch.mask) });
      return { advantages: out, scores: Float32Array.from(batch.stepScores!, (s) => (s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0)), signal };
    },
  };
}
