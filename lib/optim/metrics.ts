// metrics.ts: what every RL step reports: rewards and accuracy, zero-variance groups, advantage
// statistics, loss parts, clip fraction, KL, entropy, response length, throughput and wall time
// per phase (ALGORITHMS.md §6.5).
import type { Advantages } from './algorithm';
import type { DynamicSamplingStats } from './dynamic_sampling';
import type { RolloutBatch } from './batch';
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
  /** With dynamic sampling (DAPO): rounds, prompts, dropped and kept groups of this step. */
  dynamicSampling?: DynamicSamplingStats;
  /** Mean |Σ_{t'≥t}(ℓold − ℓref)| over response tokens when the reference was run (PRL's S; sets its η). */
  suffixLogRatioAbs?: number;
  /** Process-supervised methods: their own term's size against the outcome advantage (signal.ts). */
  signal?: SignalStats;
}

export function stepMetrics(step: number, batch: RolloutBatch, adv: Advantages, update: UpdateStats,
  seconds: Record<string, number>, rewardKlCoef: number, lr: number): StepMetrics {
  const { R, mask } = batch;
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
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    tokens++;
    const a = adv.advantages[i];
    aSum += a;
    aSq += a * a;
    aAbs += Math.abs(a);
    entropy += batch.entropy[i];
  }
  const aMean = aSum / Math.max(tokens, 1);
  seconds.total = Object.values(seconds).reduce((a, b) => a + b, 0);
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
    ...(batch.refLogprobs ? { suffixLogRatioAbs: suffixLogRatioAbs(batch.oldLogprobs, batch.refLogprobs, mask, batch.T) } : {}),
    ...(adv.signal ? { signal: adv.signal } : {}),
  };
}
