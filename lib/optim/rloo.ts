// rloo.ts: RLOO, REINFORCE Leave-One-Out (Ahmadian et al., arXiv 2402.14740; docs/ALGORITHMS-baselines.md
// §B1): each row's baseline is the mean reward of the other rollouts of its prompt,
// A_i = r_i − mean_{j≠i} r_j, broadcast to every response token; no σ, no critic. Loss: the clipped
// surrogate (on-policy, one update per batch, so ρ ≡ 1 and RLOO's REINFORCE gradient), token-mean.
import * as ops from '../ops/index';
import { Tensor } from '../tensor';
import { rowAdvantageAlgorithm, type Algorithm, type LossSettings } from './algorithm';

export type RLOOOptions = Partial<LossSettings>;

/** RLOO advantages per row (float32 [R]); every group needs ≥ 2 rollouts. */
export function leaveOneOutAdvantages(rewards: Float32Array, groupIds: Int32Array): Float32Array {
  const r = Tensor.from(rewards, [rewards.length]), g = Tensor.from(groupIds, [groupIds.length]);
  const a = ops.rlooAdvantages(r, g);
  const out = a.toArray() as Float32Array;
  a.dispose();
  return out;
}

export function rloo(options: RLOOOptions = {}): Algorithm {
  return rowAdvantageAlgorithm('rloo', options, leaveOneOutAdvantages);
}
