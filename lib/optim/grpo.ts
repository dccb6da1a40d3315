// grpo.ts: GRPO (DeepSeekMath; ALGORITHMS.md §1.5, §1.7): the outcome reward normalized within
// each prompt's group, broadcast to every response token, clipped surrogate + k3 KL in the loss.
// Dr. GRPO and DAPO are settings of it, not copies: `variant: 'dr-grpo'` (no σ, constant-length
// normalizer, β = 0) and `variant: 'dapo'` (clip-higher 0.28, no KL, dynamic sampling, and the soft
// overlong penalty when `overlong` is given). Dynamic sampling is the Trainer's (dynamic_sampling.ts):
// the algorithm only carries its settings in `dynamicSampling`.
import * as ops from '../ops/index';
import { Tensor, type Device } from '../tensor';
import { DEFAULT_LOSS, deviceAdvantages, type Algorithm, type LossSettings } from './algorithm';
import { broadcastRowsOn } from './device_math';
import { broadcastRows, type RolloutBatch } from './batch';
import { dynamicSamplingSettings, type DynamicSamplingOptions } from './dynamic_sampling';

export interface GRPOOptions extends Partial<LossSettings> {
  variant?: 'grpo' | 'dr-grpo' | 'dapo';
  /** σ normalization ('std', GRPO) or centring only ('none', Dr. GRPO). */
  scale?: 'std' | 'none';
  std?: 'unbiased' | 'population';
  eps?: number;
  /** DAPO's soft overlong penalty: responses longer than maxLength − buffer lose up to `factor`. */
  overlong?: { maxLength: number; buffer: number; factor: number };
  /**
   * DAPO's dynamic sampling: drop groups whose rewards are all equal and refill the batch with
   * fresh prompts, at most `maxRounds` generation rounds a step. Default on for 'dapo', off otherwise.
   */
  dynamicSampling?: boolean | DynamicSamplingOptions;
}

/** Group-normalized outcome advantages per row (float32 [R]), computed by the native op on `device`. */
export function outcomeAdvantages(rewards: Float32Array, groupIds: Int32Array, options: Pick<GRPOOptions, 'scale' | 'std' | 'eps'> = {}, device: Device = 'cpu'): Float32Array {
  const r = Tensor.from(rewards, [rewards.length], { device }), g = Tensor.from(groupIds, [groupIds.length], { device });
  const a = ops.groupAdvantages(r, g, { scale: options.scale ?? 'std', std: options.std ?? 'unbiased', eps: options.eps ?? 1e-6 });
  const out = a.toArray() as Float32Array;
  for (const t of [r, g, a]) t.dispose();
  return out;
}

/** DAPO's overlong shaping added to the outcome reward (§1.7). */
export function overlongPenalty(length: number, o: { maxLength: number; buffer: number; factor: number }): number {
  return Math.min(-(length - (o.maxLength - o.buffer)) / o.buffer, 0) * o.factor;
}

export function grpo(options: GRPOOptions = {}): Algorithm {
  const variant = options.variant ?? 'grpo';
  const presets: Record<string, Partial<LossSettings> & { scale?: 'std' | 'none' }> = {
    grpo: { klCoef: 0.001 },
    'dr-grpo': { klCoef: 0, scale: 'none', aggregation: 'seq-mean-token-sum-norm' },
    dapo: { klCoef: 0, clipHigh: 0.28, aggregation: 'token-mean' },
  };
  const preset = presets[variant];
  const { dynamicSampling, ...settings } = options;
  const loss: LossSettings = { ...DEFAULT_LOSS, ...preset, ...settings } as LossSettings;
  const scale = options.scale ?? preset.scale ?? 'std';
  return {
    name: variant,
    needs: { ref: loss.klCoef > 0 },
    loss,
    dynamicSampling: dynamicSamplingSettings(dynamicSampling ?? variant === 'dapo', 'options.dynamicSampling'),
    advantages(batch: RolloutBatch, context) {
      const rewards = Float32Array.from(batch.rewards);
      if (options.overlong) for (let r = 0; r < batch.R; r++) rewards[r] += overlongPenalty(batch.lengths[r], options.overlong);
      const device = context?.device ?? 'cpu';
      const perRow = outcomeAdvantages(rewards, batch.groupIds, { scale, std: options.std, eps: options.eps }, device);
      // Off the cpu the [R] advantages (an O(R) read) are broadcast on the device: the mask stays there.
      if (device !== 'cpu') return deviceAdvantages({ advantages: broadcastRowsOn(perRow, batch.lengths, batch.T, device) }, { scores: rewards });
      return { advantages: broadcastRows(perRow, batch.mask, batch.T), scores: rewards };
    },
  };
}
