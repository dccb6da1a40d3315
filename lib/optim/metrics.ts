// metrics.ts: what every RL step reports: rewards and accuracy, zero-variance groups, advantage
// statistics, loss parts, clip fraction, KL, entropy, response length, throughput and wall time
// per phase (ALGORITHMS.md §6.5), and the process's CPU seconds per phase.
import type { Advantages } from './algorithm';
import type { DynamicSamplingStats } from './dynamic_sampling';
import { tensorOf, type RolloutBatch } from './batch';
import { absDifference, difference, halfSquare, maskByLengths, maskedSums, suffixSums } from './device_math';
import type { Device, Tensor } from '../tensor';
import { suffixLogRatioAbs, type SignalStats } from './signal';
import type { UpdateStats } from './update';

/** The update's loss parts, clip fraction, KL and gradient norm come as update.ts reports them. */
export interface StepMetrics extends Omit<UpdateStats, 'optimizerSteps'> {
  step: number;
  rewardMean: number;
  rewardStd: number;
  accuracy: number;
  /** The algorithm's per-row score (shaped reward, ±1 outcome, ...), averaged. */
  scoreMean: number;
  zeroVarianceGroups: number;
  advantageMean: number;
  advantageStd: number;
  advantageAbsMean: number;
  entropy: number;
  responseLength: number;
  lr: number;
  rewardKlCoef: number;
  tokensPerSecond: number;
  seconds: Record<string, number>;
  /**
   * The process's CPU seconds (user + system, summed over every thread: the native thread pool's
   * included) over each phase of `seconds`, with their `total`; cpuSeconds[p] / seconds[p] is the
   * number of cores busy on average in that phase. Process-wide: work another thread of the same
   * process did meanwhile counts too. Absent from metrics that did not record it.
   */
  cpuSeconds?: Record<string, number>;
  /** With dynamic sampling (DAPO): rounds, prompts, dropped and kept groups of this step. */
  dynamicSampling?: DynamicSamplingStats;
  /** Mean |Σ_{t'≥t}(ℓold − ℓref)| over response tokens when the reference was run (PRL's S; sets its η). */
  suffixLogRatioAbs?: number;
  /** Process-supervised methods: their own term's size against the outcome advantage (signal.ts). */
  signal?: SignalStats;
}

/**
 * Masked sums over the response tokens of a batch whose per-token data is on a device, reduced there
 * (device_math.ts): one read of 4 floats (6 with a reference). `logRatio` = Σ(ℓold − ℓref) and
 * `suffixAbs` = Σ|S| (S the suffix sums of ℓold − ℓref) when the batch has reference log-probs.
 */
export interface TokenSums {
  tokens: number;
  advantage: number;
  advantageSquare: number;
  advantageAbs: number;
  entropy: number;
  logRatio?: number;
  suffixAbs?: number;
}

export function deviceTokenSums(batch: RolloutBatch, advantages: Tensor, device: Device): TokenSums {
  const { R, T } = batch;
  const mask = tensorOf(batch, 'mask', device, [R, T])!, entropy = tensorOf(batch, 'entropy', device, [R, T])!;
  const square = halfSquare(advantages), abs = absDifference(advantages);
  const rows = [advantages, square, abs, entropy];
  const ref = tensorOf(batch, 'refLogprobs', device, [R, T]);
  const made = [square, abs];
  if (ref) {
    const raw = difference(tensorOf(batch, 'oldLogprobs', device, [R, T])!, ref);
    const ratio = maskByLengths(raw, batch.lengths, T), suffix = suffixSums(ratio, R, T), suffixAbs = absDifference(suffix);
    rows.push(ratio, suffixAbs);
    made.push(raw, ratio, suffix, suffixAbs);
  }
  const sums = maskedSums(rows, mask);
  for (const t of made) t.dispose();
  let tokens = 0;
  for (const n of batch.lengths) tokens += n;
  return {
    tokens, advantage: sums[0], advantageSquare: 2 * sums[1], advantageAbs: sums[2], entropy: sums[3],
    ...(ref ? { logRatio: sums[4], suffixAbs: sums[5] } : {}),
  };
}

/**
 * The step's metrics. With `sums` (a device batch: deviceTokenSums) the per-token statistics come
 * from them and no per-token array is read; without, from the host arrays (the cpu path).
 */
export function stepMetrics(step: number, batch: RolloutBatch, adv: Advantages, update: UpdateStats,
  seconds: Record<string, number>, rewardKlCoef: number, lr: number, sums?: TokenSums, cpuSeconds?: Record<string, number>): StepMetrics {
  const { R } = batch;
  const mean = (xs: ArrayLike<number>) => {
    let sum = 0;
    for (let i = 0; i < xs.length; i++) sum += xs[i];
    return sum / Math.max(xs.length, 1);
  };
  const rewardMean = mean(batch.rewards);
  const rewardStd = Math.sqrt(mean(Array.from(batch.rewards, (r) => (r - rewardMean) ** 2)));
  const groups = new Map<number, number[]>();
  batch.groupIds.forEach((g, r) => (groups.get(g) ?? groups.set(g, []).get(g)!).push(batch.rewards[r]));
  const zeroVariance = [...groups.values()].filter((rs) => rs.every((x) => x === rs[0])).length / Math.max(groups.size, 1);
  let tokens = 0, aSum = 0, aSq = 0, aAbs = 0, entropy = 0;
  if (sums) ({ tokens, advantage: aSum, advantageSquare: aSq, advantageAbs: aAbs, entropy } = sums);
  else {
    const { mask } = batch;
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] === 0) continue;
      tokens++;
      const a = adv.advantages[i];
      aSum += a;
      aSq += a * a;
      aAbs += Math.abs(a);
      entropy += batch.entropy[i];
    }
  }
  const aMean = aSum / Math.max(tokens, 1);
  seconds.total = Object.values(seconds).reduce((a, b) => a + b, 0);
  if (cpuSeconds) cpuSeconds.total = Object.values(cpuSeconds).reduce((a, b) => a + b, 0);
  return {
    step, rewardMean, rewardStd,
    accuracy: batch.verdicts.filter((v) => v.correct).length / R,
    scoreMean: adv.scores ? mean(adv.scores) : rewardMean,
    zeroVarianceGroups: zeroVariance,
    advantageMean: aMean,
    advantageStd: Math.sqrt(Math.max(aSq / Math.max(tokens, 1) - aMean * aMean, 0)),
    advantageAbsMean: aAbs / Math.max(tokens, 1),
    loss: update.loss, pgLoss: update.pgLoss, klLoss: update.klLoss, valueLoss: update.valueLoss,
    clipFraction: update.clipFraction, kl: update.kl, approxKl: update.approxKl,
    entropy: entropy / Math.max(tokens, 1),
    responseLength: mean(batch.lengths),
    gradNorm: update.gradNorm, lr, rewardKlCoef,
    tokensPerSecond: (batch.R * (batch.P + batch.T)) / Math.max(seconds.total, 1e-9),
    seconds,
    ...(cpuSeconds ? { cpuSeconds } : {}),
    ...(sums ? (sums.suffixAbs !== undefined ? { suffixLogRatioAbs: sums.tokens > 0 ? sums.suffixAbs / sums.tokens : 0 } : {})
      : batch.refLogprobs ? { suffixLogRatioAbs: suffixLogRatioAbs(batch.oldLogprobs, batch.refLogprobs, batch.mask, batch.T) } : {}),
    ...(adv.signal ? { signal: adv.signal } : {}),
  };
}
