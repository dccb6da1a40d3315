// resident.ts: a rollout batch's per-token arrays on the policy's device for the update: the
// sequences [R, P+T] and response tokens [R, T] (int32, uploaded once per update from the host ids),
// and the mask, rollout / reference log-probs, advantages, returns and rollout values [R, T]
// (float32): the batch's and the advantage estimator's own tensors when they are already there
// (batch.ts attachedTensor: no copy, no host read), else uploaded once per update.
// A micro-batch of consecutive rows (every on-policy step: one epoch, one mini-batch) is a view of
// these, no copy; a shuffled one gathers its rows on the device (ops.embedding over the [R, T]
// table) for the float data, and uploads its ids (n·(P+T) int32) for the sequences. Gathered rows
// are exact copies, so the loss sees the same numbers as from the host arrays.
import * as ops from '../ops/index';
import { Tensor, type Device } from '../tensor';
import { attachedTensor, type RolloutBatch } from './batch';

export interface ResidentRows {
  /** int32 [n, P+T] and [n * T]. */
  sequence: Tensor;
  targets: Tensor;
  /** float32 [n, T] each. */
  mask: Tensor;
  oldLogprobs: Tensor;
  advantages: Tensor;
  refLogprobs?: Tensor;
  oldValues?: Tensor;
  returns?: Tensor;
}

type FloatName = 'mask' | 'oldLogprobs' | 'advantages' | 'refLogprobs' | 'oldValues' | 'returns';

export class ResidentBatch {
  readonly device: Device;
  readonly #batch: RolloutBatch;
  readonly #sequences: Tensor;
  readonly #tokens: Tensor;
  readonly #floats = new Map<FloatName, Tensor>();

  /** Tensors this object made (uploads, reshapes) and disposes; the batch's own stay the batch's. */
  readonly #made: Tensor[] = [];

  constructor(batch: RolloutBatch, device: Device, extra: { advantages: Float32Array | Tensor; returns?: Float32Array | Tensor }) {
    const { R, P, T } = batch;
    this.device = device;
    this.#batch = batch;
    this.#sequences = this.#own(Tensor.from(batch.sequences, [R, P + T], { device }));
    this.#tokens = this.#own(Tensor.from(batch.tokens, [R, T], { device }));
    const own = (data: Float32Array | Tensor | undefined): Tensor | undefined => {
      if (data === undefined) return undefined;
      if (!(data instanceof Tensor)) return this.#own(Tensor.from(data, [R, T], { device }));
      const there = data.device === device ? data : this.#own(data.to(device));
      return there.shape.length === 2 && there.shape[0] === R && there.shape[1] === T ? there : this.#own(there.reshape([R, T]));
    };
    // The batch's attached tensors as they are; a field held on the host is uploaded (and owned) here.
    const field = (name: 'mask' | 'oldLogprobs' | 'refLogprobs' | 'oldValues') => own(attachedTensor(batch, name, device) ?? batch[name]);
    const floats: [FloatName, Tensor | undefined][] = [
      ['mask', field('mask')], ['oldLogprobs', field('oldLogprobs')], ['advantages', own(extra.advantages)],
      ['refLogprobs', field('refLogprobs')], ['oldValues', field('oldValues')], ['returns', own(extra.returns)],
    ];
    for (const [name, tensor] of floats) if (tensor !== undefined) this.#floats.set(name, tensor);
  }

  #own(tensor: Tensor): Tensor {
    this.#made.push(tensor);
    return tensor;
  }

  /** The tensors of `rows` (views when they are consecutive); the caller disposes them (or its scope does). */
  rows(rows: readonly number[]): ResidentRows {
    const { P, T } = this.#batch, n = rows.length, width = P + T;
    const first = rows[0];
    const consecutive = rows.every((r, i) => r === first + i);
    let ids: Tensor | null = null;
    const floatRows = (table: Tensor): Tensor => {
      if (consecutive) return table.view(first * T, [n, T]);
      ids ??= Tensor.from(Int32Array.from(rows), [n], { device: this.device });
      return ops.embedding({ out: Tensor.zeros([n, T], { device: this.device }), tokens: ids, table });
    };
    let sequence: Tensor, targets: Tensor;
    if (consecutive) {
      sequence = this.#sequences.view(first * width, [n, width]);
      targets = this.#tokens.view(first * T, [n * T]);
    } else {
      const seq = new Int32Array(n * width), tok = new Int32Array(n * T);
      rows.forEach((r, i) => {
        seq.set(this.#batch.sequences.subarray(r * width, (r + 1) * width), i * width);
        tok.set(this.#batch.tokens.subarray(r * T, (r + 1) * T), i * T);
      });
      sequence = Tensor.from(seq, [n, width], { device: this.device });
      targets = Tensor.from(tok, [n * T], { device: this.device });
    }
    const out: ResidentRows = {
      sequence, targets, mask: floatRows(this.#floats.get('mask')!), oldLogprobs: floatRows(this.#floats.get('oldLogprobs')!),
      advantages: floatRows(this.#floats.get('advantages')!),
    };
    for (const name of ['refLogprobs', 'oldValues', 'returns'] as const) {
      const table = this.#floats.get(name);
      if (table !== undefined) out[name] = floatRows(table);
    }
    (ids as Tensor | null)?.dispose();
    return out;
  }

  dispose(): void {
    for (const t of this.#made) t.dispose();
    this.#made.length = 0;
    this.#floats.clear();
  }
}
