// batch.ts: one rollout batch as the optimizers see it. R = B prompts × G rollouts, rows grouped
// by explicit group ids; each row's sequence is [left-padded prompt (P) | response (T) | padding].
// The per-token float arrays (mask, rollout and reference log-probs, entropies, rollout values)
// live where the step runs them: the Trainer attaches them as tensors on the policy's device
// (attachTensor), and the optimizers take them with tensorOf() without a host copy. The fields of
// the interface stay typed arrays for the user: on such a batch they are lazy accessors that read
// the tensor to the host on first use (a device read on cuda; no copy on the cpu, where the tensor
// wraps the array). An attached tensor lives in the scope it was made in (the Trainer's step), so a
// cuda batch's fields must be read, if at all, before that scope ends. Assigning a field replaces
// its tensor by the host array (uploaded again where an op needs it on the device).
// Invariant every producer keeps: mask[r, t] = 1 exactly for t < lengths[r] (responses are
// right-padded), so per-row token counts and masks on the device come from `lengths`.
import { Tensor, type Device } from '../tensor';
import type { Verdict } from '../tasks/task';
import type { LoadedSample } from '../text/dataset';
import type { StepSplit } from '../reward/splitters';

export interface RolloutBatch {
  R: number;
  /** Where the per-token tensors live (the policy's device); absent: 'cpu'. */
  device?: Device;
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

/** The per-token float arrays a batch (or an Advantages object) may hold as device tensors. */
export type PerTokenName = 'mask' | 'oldLogprobs' | 'entropy' | 'refLogprobs' | 'oldValues' | 'advantages' | 'returns';

interface Slot {
  host?: Float32Array;
  tensor?: Tensor;
}

const slots = new WeakMap<object, Map<string, Slot>>();

function slotOf(owner: object, name: string): Slot {
  let map = slots.get(owner);
  if (!map) slots.set(owner, (map = new Map()));
  let slot = map.get(name);
  if (!slot) {
    map.set(name, (slot = {}));
    const value = (owner as Record<string, unknown>)[name];
    if (value instanceof Float32Array) slot.host = value;
    Object.defineProperty(owner, name, {
      enumerable: true, configurable: true,
      get: () => {
        if (slot!.host === undefined && slot!.tensor !== undefined) slot!.host = slot!.tensor.toFloat32();
        return slot!.host;
      },
      set: (data: Float32Array | undefined) => {
        slot!.host = data;
        slot!.tensor = undefined;
      },
    });
  }
  return slot;
}

/**
 * Makes `tensor` (float32, R·T elements) the value of `owner[name]`; the field becomes a lazy host
 * accessor (read on first use; on the cpu the tensor's own array, no copy). Returns the tensor.
 */
export function attachTensor(owner: object, name: PerTokenName, tensor: Tensor): Tensor {
  const slot = slotOf(owner, name);
  slot.tensor = tensor;
  slot.host = tensor.device === 'cpu' ? (tensor._storage(name) as Float32Array) : undefined;
  return tensor;
}

/**
 * `owner[name]` as a float32 tensor of `shape` on `device`, without a host read: the attached
 * tensor when it is there, else the host array (wrapped without a copy on the cpu, uploaded once
 * and kept otherwise); undefined when the field is absent.
 */
export function tensorOf(owner: object, name: PerTokenName, device: Device, shape: readonly number[]): Tensor | undefined {
  const slot = slotOf(owner, name);
  const attached = slot.tensor;
  if (attached !== undefined && !attached.disposed && attached.device === device) return sameShape(attached, shape) ? attached : attached.reshape(shape);
  if (slot.host === undefined && attached !== undefined) slot.host = attached.toFloat32();  // on another device (throws if disposed)
  if (slot.host === undefined) return undefined;
  slot.tensor = Tensor.from(slot.host, shape, { device });
  return slot.tensor;
}

function sameShape(tensor: Tensor, shape: readonly number[]): boolean {
  return tensor.shape.length === shape.length && tensor.shape.every((d, i) => d === shape[i]);
}

/** The tensor attached as `owner[name]` when it is alive and on `device` (else undefined; no upload, no read). */
export function attachedTensor(owner: object, name: PerTokenName, device: Device): Tensor | undefined {
  const tensor = slots.get(owner)?.get(name)?.tensor;
  return tensor !== undefined && !tensor.disposed && tensor.device === device ? tensor : undefined;
}

/** Whether `owner[name]` is a host array now (reading it costs no device read). */
export function onHost(owner: object, name: PerTokenName): boolean {
  const map = slots.get(owner);
  const slot = map?.get(name);
  return slot === undefined ? (owner as Record<string, unknown>)[name] !== undefined : slot.host !== undefined;
}
