// ppo.ts: PPO with a critic (legacy TRL PPOTrainer; ALGORITHMS.md §1.8): per-token reward
// −β·(ℓold − ℓref) plus the sequence score at the last response token, GAE (γ = 1, λ = 0.95),
// whitened advantages, clipped surrogate and clipped value loss, 4 epochs, adaptive KL controller.
// `score` lets PSPO (pspo.ts) put its shaped PRM reward where the outcome reward would go.
import * as ops from '../ops/index';
import { Tensor, type Device } from '../tensor';
import { DEFAULT_LOSS, type AdvantageContext, type Algorithm, type LossSettings } from './algorithm';
import type { RolloutBatch } from './batch';
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
      const rewards = tokenRewards(batch, scores, context.rewardKlCoef);
      return { ...criticAdvantages(batch, rewards, options, context.device), scores, ...(signal ? { signal: signal(batch, scores) } : {}) };
    },
  };
}

export function ppo(options: PPOOptions = {}): Algorithm {
  return ppoWithScore('ppo', options, (batch) => Float32Array.from(batch.rewards));
}
