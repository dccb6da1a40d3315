// process_grpo.ts: process-supervised GRPO (DeepSeekMath §4.1.3; ALGORITHMS.md §1.6): the PRM's
// step rewards of a whole group are normalized together, and a token's advantage is the sum of the
// normalized rewards of the steps that end at or after it.
import * as ops from '../ops/index';
import { Tensor } from '../tensor';
import { newlineSplitter, type StepSplitter } from '../reward/splitters';
import { DEFAULT_LOSS, deviceAdvantages, lossModeClips, type Algorithm, type LossSettings } from './algorithm';
import { absDifference, halfSquare, maskByLengths, maskedSums } from './device_math';
import { broadcastRows, ragged, tensorOf, type RolloutBatch } from './batch';
import { outcomeAdvantages } from './grpo';
import { correlation, maskedAbsMean, signalStats, type SignalStats } from './signal';

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
      const scores = Float32Array.from(batch.stepScores!, (s) => (s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0));
      if (device !== 'cpu') {
        const mask = tensorOf(batch, 'mask', device, [R, T])!;
        return deviceAdvantages({ advantages }, { scores, signal: deviceSignal(advantages, outcomeAdvantages(batch.rewards, batch.groupIds), batch.lengths, mask) });
      }
      const out = advantages.toArray() as Float32Array;
      advantages.dispose();
      // Step advantages against the outcome advantages GRPO would give this batch, and their agreement.
      const outcome = broadcastRows(outcomeAdvantages(batch.rewards, batch.groupIds), batch.mask, T);
      const signal = signalStats(maskedAbsMean(out, batch.mask), maskedAbsMean(outcome, batch.mask), { outcomeCorrelation: correlation(out, outcome, batch.mask) });
      return { advantages: out, scores, signal };
    },
  };
}

/**
 * The signal above for step advantages A [R, T] on a device and the outcome advantages b [R] on the
 * host: masked sums of A, |A| and A² in one GEMM, A's row sums in another (R floats read), the
 * rest from b and the lengths; the correlation from those sums (Σab = Σ_r b_r·Σ_t A[r,t]).
 */
function deviceSignal(A: Tensor, b: Float32Array, lengths: Int32Array, mask: Tensor): SignalStats {
  const [R, T] = mask.shape, device = A.device;
  const abs = absDifference(A), half = halfSquare(A);
  const [sumA, sumAbs, halfSquares] = maskedSums([A, abs, half], mask);
  const masked = maskByLengths(A, lengths, T), ones = Tensor.from(new Float32Array(T).fill(1), [1, T], { device });
  const rows = ops.matmul({ out: Tensor.zeros([R, 1], { device }), inp: masked, weight: ones });
  const rowSums = rows.toArray() as Float32Array;
  for (const t of [abs, half, masked, ones, rows]) t.dispose();
  let n = 0, sumB = 0, sumAbsB = 0, sumBB = 0, sumAB = 0;
  for (let r = 0; r < R; r++) {
    n += lengths[r];
    sumB += b[r] * lengths[r];
    sumAbsB += Math.abs(b[r]) * lengths[r];
    sumBB += b[r] * b[r] * lengths[r];
    sumAB += b[r] * rowSums[r];
  }
  let outcomeCorrelation = 0;
  if (n >= 2) {
    const ma = sumA / n, mb = sumB / n;
    const cab = sumAB - n * ma * mb, caa = 2 * halfSquares - n * ma * ma, cbb = sumBB - n * mb * mb;
    outcomeCorrelation = caa > 0 && cbb > 0 ? cab / Math.sqrt(caa * cbb) : 0;
  }
  return signalStats(n > 0 ? sumAbs / n : 0, n > 0 ? sumAbsB / n : 0, { outcomeCorrelation });
}
