// prl.ts: PRL, Process Reward Learning (arXiv 2601.10201; ALGORITHMS.md §4): the process reward
// of a step is the outcome advantage minus (1/η)·the policy/reference log-ratio still to come, so
// no PRM is needed; the KL enters only through it (β = 0 in the loss). On-policy, token-mean.
import * as ops from '../ops/index';
import { Tensor } from '../tensor';
import { fixedLengthSplitter, type StepSplitter } from '../reward/splitters';
import { DEFAULT_LOSS, deviceAdvantages, lossModeClips, type Algorithm, type LossSettings } from './algorithm';
import { stepEndMask, tensorOf, type RolloutBatch } from './batch';
import { residualMeans } from './device_math';
import { outcomeAdvantages } from './grpo';
import { maskedAbsResidual, maskedRowAbsMean, signalStats } from './signal';

export interface PRLOptions extends Partial<LossSettings> {
  eta?: number;
  mode?: 'step' | 'token';
  suffixStart?: 'inclusive' | 'next_step';
  /** Step split; the paper's best is a fixed length of 256 tokens. */
  splitter?: StepSplitter;
}

export function prl(options: PRLOptions = {}): Algorithm {
  const loss: LossSettings = { ...DEFAULT_LOSS, klCoef: 0, ...lossModeClips(options), ...options };
  return {
    name: 'prl',
    needs: { ref: true, steps: options.splitter ?? fixedLengthSplitter(256) },
    loss,
    advantages(batch: RolloutBatch, context) {
      const { R, T } = batch;
      const device = context?.device ?? 'cpu';  // the advantage op runs on the policy's device
      const groupSizes = new Map<number, number>();
      for (const g of batch.groupIds) groupSizes.set(g, (groupSizes.get(g) ?? 0) + 1);
      // G = 1: the reference skips normalization (Â = r).
      const single = [...groupSizes.values()].every((n) => n === 1);
      const outcome = single ? Float32Array.from(batch.rewards) : outcomeAdvantages(batch.rewards, batch.groupIds);
      const advantages = ops.prlAdvantages(
        {
          outcomeAdvantages: Tensor.from(outcome, [R], { device }), oldLogprobs: tensorOf(batch, 'oldLogprobs', device, [R, T])!,
          refLogprobs: tensorOf(batch, 'refLogprobs', device, [R, T])!, mask: tensorOf(batch, 'mask', device, [R, T])!,
          stepEnds: Tensor.from(stepEndMask(batch.steps!, T), [R, T], { device }),
        },
        { eta: options.eta ?? 200, mode: options.mode ?? 'step', suffixStart: options.suffixStart ?? 'inclusive' },
      );
      // Process part: A − Â per token (= −S/η at the token's step end in step mode).
      if (device !== 'cpu') {
        const signal = signalStats(...residualMeans(advantages, outcome, batch.lengths, T, tensorOf(batch, 'mask', device, [R, T])!));
        return deviceAdvantages({ advantages }, { scores: Float32Array.from(batch.rewards), signal });
      }
      const out = advantages.toArray() as Float32Array;
      advantages.dispose();
      const signal = signalStats(maskedAbsResidual(out, outcome, batch.mask, T), maskedRowAbsMean(outcome, batch.mask, T));
      return { advantages: out, scores: Float32Array.from(batch.rewards), signal };
    },
  };
}
