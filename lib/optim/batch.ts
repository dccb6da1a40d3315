// batch.ts: one rollout batch as the optimizers see it. R = B prompts × G rollouts, rows grouped
// by explicit group ids; each row's sequence is [left-padded prompt (P) | response (T) | padding].
// Everything here is host data (typed arrays); tensors are made where an op needs them.
import type { Verdict } from '../tasks/task';
import type { LoadedSample } from '../text/dataset';
import type { StepSplit } from '../reward/splitters';

export interface RolloutBatch {
  R: number;
  /** Prompt block length (prompts left-padded to it) and response length (right-padded to it). */
  P: number;
  T: number;
  /** The sample of each row (a Task's problems are samples too). */
  problems: LoadedSample[];
  groupIds: Int32Array;
  /** int32 [R * (P + T)]: the full sequences a training forward sees. */
  sequences: Int32Array;
  /** [R]: index of each row's first real token in its sequence. */
  attentionStart: Int32Array;
  /** [R * T] response tokens, mask (1 on generated tokens incl. the stop token), rollout log-probs and entropies. */
  tokens: Int32Array;
  mask: Float32Array;
  oldLogprobs: Float32Array;
  entropy: Float32Array;
  lengths: Int32Array;
  texts: string[];
  verdicts: Verdict[];
  /** [R] outcome rewards from the verifier. */
  rewards: Float32Array;
  /** [R * T] log-probs under the frozen reference (when the algorithm or the KL term needs them). */
  refLogprobs?: Float32Array;
  /** [R * T] value estimates of the rollout policy at each response token (critic algorithms). */
  oldValues?: Float32Array;
  /** Per row: steps of the response and the PRM's score of each (process-supervised algorithms). */
  steps?: StepSplit[];
  stepScores?: number[][];
}

/** Ragged per-row lists as (flat values, offsets [R+1]). */
export function ragged(rows: readonly (readonly number[])[]): { values: Float32Array; offsets: Int32Array } {
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => (offsets[i + 1] = offsets[i] + r.length));
  const values = new Float32Array(offsets[rows.length]);
  rows.forEach((r, i) => values.set(r, offsets[i]));
  return { values, offsets };
}

/** [R * T] per-token values: one number per row broadcast over its masked tokens. */
export function broadcastRows(perRow: ArrayLike<number>, mask: Float32Array, T: number): Float32Array {
  const out = new Float32Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = mask[i] * perRow[Math.floor(i / T)];
  return out;
}

/** uint8 [R * T]: 1 on the last token of each step. */
export function stepEndMask(steps: readonly StepSplit[], T: number): Uint8Array {
  const out = new Uint8Array(steps.length * T);
  steps.forEach((s, r) => s.ends.forEach((e) => (out[r * T + e] = 1)));
  return out;
}
