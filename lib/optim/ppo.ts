// ppo.ts: PPO with a critic (legacy TRL PPOTrainer; ALGORITHMS.md §1.8): per-token reward
// −β·(ℓold − ℓref) plus the sequence score at the last response token, GAE (γ = 1, λ = 0.95),
// whitened advantages, clipped surrogate and clipped value loss, 4 epochs, adaptive KL controller.
// `score` lets PSPO (pspo.ts) put its shaped PRM reward where the outcome reward would go.
import * as ops from '../ops/index';
import { Tensor, type Device } from '../tensor';
import { DEFAULT_LOSS, deviceAdvantages, type AdvantageContext, type Algorithm, type LossSettings } from './algorithm';
import { tensorOf, type RolloutBatch } from './batch';
import { difference } from './device_math';
import type { SignalStats } from './signal';

export interface PPOOptions extends Partial<LossSettings> {
  gamma?: number;
  lambda?: number;
  whiten?: boolean;
  /** Initial β of the KL penalty in the reward, and the adaptive controller's target and horizon. */
  klInit?: number;
  klTarget?: number;
  klHorizon?: number;
}

/** Per-token rewards [R * T]: −β·(ℓold − ℓref) on every response token, plus `score` at the last. */
export function tokenRewards(batch: RolloutBatch, score: ArrayLike<number>, beta: number): Float32Array {
  const { R, T, mask, oldLogprobs, refLogprobs, lengths } = batch;
  const out = new Float32Array(R * T);
  for (let i = 0; i < R * T; i++) if (mask[i] !== 0 && refLogprobs) out[i] = -beta * (oldLogprobs[i] - refLogprobs[i]);
  for (let r = 0; r < R; r++) if (lengths[r] > 0) out[r * T + lengths[r] - 1] += score[r];
  return out;
}

/** GAE over the batch's tokens: advantages and returns [R * T], computed by the native op on `device`. */
export function criticAdvantages(batch: RolloutBatch, rewards: Float32Array, o: Pick<PPOOptions, 'gamma' | 'lambda' | 'whiten'>, device: Device = 'cpu') {
  const { R, T } = batch;
  const inputs = {
    rewards: Tensor.from(rewards, [R, T], { device }), values: Tensor.from(batch.oldValues!, [R, T], { device }), mask: Tensor.from(batch.mask, [R, T], { device }),
  };
  const result = ops.gae(inputs, { gamma: o.gamma ?? 1, lambda: o.lambda ?? 0.95, whiten: o.whiten ?? true });
  const out = { advantages: result.advantages.toArray() as Float32Array, returns: result.returns.toArray() as Float32Array };
  for (const t of [result.advantages, result.returns, inputs.rewards, inputs.values, inputs.mask]) t.dispose();
  return out;
}

/**
 * tokenRewards and GAE on the device: −β·(ℓold − ℓref) (k1, then one GEMM with the placed scores as
 * its residual) and ops.gae, from the batch's tensors; returns tensors [R, T] (nothing is read).
 */
export function criticAdvantagesOn(batch: RolloutBatch, score: ArrayLike<number>, beta: number, o: Pick<PPOOptions, 'gamma' | 'lambda' | 'whiten'>, device: Device) {
  const { R, T, lengths } = batch;
  const mask = tensorOf(batch, 'mask', device, [R, T])!, values = tensorOf(batch, 'oldValues', device, [R, T])!;
  const placed = new Float32Array(R * T);  // the row's score at its last response token
  for (let r = 0; r < R; r++) if (lengths[r] > 0) placed[r * T + lengths[r] - 1] = score[r];
  const scores = Tensor.from(placed, [R * T, 1], { device });
  let rewards: Tensor;
  const ref = tensorOf(batch, 'refLogprobs', device, [R, T]);
  if (ref) {
    // ℓold and ℓref are 0 on padding, so is their difference (the host loop's mask test).
    const ratio = difference(tensorOf(batch, 'oldLogprobs', device, [R, T])!, ref);
    const inp = ratio.reshape([R * T, 1]), weight = Tensor.from(Float32Array.of(-beta), [1, 1], { device });
    rewards = ops.matmul({ out: Tensor.zeros([R * T, 1], { device }), inp, weight, residual: scores });
    for (const t of [ratio, inp, weight, scores]) t.dispose();
  } else {
    rewards = scores;
  }
  const shaped = rewards.reshape([R, T]);
  rewards.dispose();
  const result = ops.gae({ rewards: shaped, values, mask }, { gamma: o.gamma ?? 1, lambda: o.lambda ?? 0.95, whiten: o.whiten ?? true });
  shaped.dispose();
  return result;
}

export function ppoWithScore(name: string, options: PPOOptions, score: (batch: RolloutBatch, context: AdvantageContext) => Float32Array | Promise<Float32Array>,
  needs: Algorithm['needs'] = {}, signal?: (batch: RolloutBatch, scores: Float32Array) => SignalStats): Algorithm {
  const loss: LossSettings = { ...DEFAULT_LOSS, epochs: 4, miniBatches: 4, ...options };
  return {
    name,
    needs: { ...needs, ref: true, values: true },
    loss,
    rewardKl: { initial: options.klInit ?? 0.2, target: options.klTarget ?? 6, horizon: options.klHorizon ?? 10000 },
    async advantages(batch, context) {
      const scores = await score(batch, context);
      const device = context.device ?? 'cpu';
      if (device !== 'cpu') {
        const result = criticAdvantagesOn(batch, scores, context.rewardKlCoef, options, device);
        return deviceAdvantages(result, { scores, ...(signal ? { signal: signal(batch, scores) } : {}) });
      }
      const rewards = tokenRewards(batch, scores, context.rewardKlCoef);
      return { ...criticAdvantages(batch, rewards, options, context.device), scores, ...(signal ? { signal: signal(batch, scores) } : {}) };
    },
  };
}

export function ppo(options: PPOOptions = {}): Algorithm {
  return ppoWithScore('ppo', options, (batch) => Float32Array.from(batch.rewards));
}
