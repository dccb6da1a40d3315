// resident.ts: a rollout batch's per-token arrays on the policy's device, uploaded once per update
// instead of once per micro-batch: the sequences [R, P+T] and response tokens [R, T] (int32), and the
// mask, rollout / reference log-probs, advantages, returns and rollout values [R, T] (float32).
// A micro-batch of consecutive rows (every on-policy step: one epoch, one mini-batch) is a view of
// these, no copy; a shuffled one gathers its rows on the device (ops.embedding over the [R, T]
// table) for the float data, and uploads its ids (n·(P+T) int32) for the sequences. Gathered rows
// are exact copies, so the loss sees the same numbers as from the host arrays.
import * as ops from '../ops/index';
import { Tensor, type Device } from '../tensor';
import type { RolloutBatch } from './batch';

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

  constructor(batch: RolloutBatch, device: Device, extra: { advantages: Float32Array; returns?: Float32Array }) {
    const { R, P, T } = batch;
    this.device = device;
    this.#batch = batch;
    this.#sequences = Tensor.from(batch.sequences, [R, P + T], { device });
    this.#tokens = Tensor.from(batch.tokens, [R, T], { device });
    const floats: [FloatName, Float32Array | undefined][] = [
      ['mask', batch.mask], ['oldLogprobs', batch.oldLogprobs], ['advantages', extra.advantages], ['refLogprobs', batch.refLogprobs],
      ['oldValues', batch.oldValues], ['returns', extra.returns],
    ];
    for (const [name, data] of floats) if (data !== undefined) this.#floats.set(name, Tensor.from(data, [R, T], { device }));
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
    this.#sequences.dispose();
    this.#tokens.dispose();
    for (const t of this.#floats.values()) t.dispose();
    this.#floats.clear();
  }
}
