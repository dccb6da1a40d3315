// response_passes.ts: what a model says about the response tokens of a RolloutBatch, recomputed by
// forward passes of `rowsPerPass` rows at a time over the [left-padded prompt | response] rows:
// log-probs and entropies of softmax(logits / temperature) (through the hidden-state path when the
// model has one, so no [rows, P+T, V] logits), and value estimates. Position P - 1 + t of a row
// predicts response token t; padding reads 0. The host versions return Float32Arrays; the resident
// ones keep the result on the model's device (cpu: the host computation, same bits).
import * as ops from '../ops/index';
import { Tensor } from '../tensor';
import type { PolicyModel } from '../model/policy';
import type { RolloutBatch } from './batch';
import { gather, keepIds, maskByLengths } from './device_math';
import { hasHiddenPath, hiddenLogprobs } from './hidden_path';

/** Logits of the positions that predict response tokens: [rows * T, V] gathered from [rows, P+T, V]. */
export function gatherResponseLogits(logits: Tensor, rows: number, P: number, T: number): Tensor {
  const V = logits.shape[2];
  const out = Tensor.zeros([rows * T, V], { device: logits.device });
  for (let r = 0; r < rows; r++) {
    const from = logits.view((r * (P + T) + P - 1) * V, [T, V]), into = out.view(r * T * V, [T, V]);
    into.copyFrom(from);
    from.dispose();
    into.dispose();
  }
  return out;
}

/** The inverse of gatherResponseLogits for gradients: [rows * T, V] into a zeroed [rows, P+T, V]. */
export function scatterResponseGrad(dresponse: Tensor, rows: number, P: number, T: number): Tensor {
  const V = dresponse.shape[1];
  const out = Tensor.zeros([rows, P + T, V], { device: dresponse.device });
  for (let r = 0; r < rows; r++) {
    const from = dresponse.view(r * T * V, [T, V]), into = out.view((r * (P + T) + P - 1) * V, [T, V]);
    into.copyFrom(from);
    from.dispose();
    into.dispose();
  }
  return out;
}

/** Rows [first, first + count) of the batch as a sequence tensor [count, P+T]. */
export function sequenceRows(batch: RolloutBatch, first: number, count: number, device: 'cpu' | 'cuda'): Tensor {
  const width = batch.P + batch.T;
  return Tensor.from(batch.sequences.slice(first * width, (first + count) * width), [count, width], { device });
}

/**
 * The log-prob passes over the batch, `rowsPerPass` rows at a time (through the hidden-state path
 * when the model has one: no logits buffer, hidden_path.ts). `use` gets each pass's first row, row
 * count and its log-probs (and entropies when asked) [count * T], before they are freed.
 */
async function logprobPasses(
  model: PolicyModel, batch: RolloutBatch, temperature: number, rowsPerPass: number, withEntropy: boolean,
  use: (first: number, count: number, logprobs: Tensor, entropy: Tensor | undefined) => void,
): Promise<void> {
  const { R, P, T } = batch;
  const device = model.device;
  for (let first = 0; first < R; first += rowsPerPass) {
    const count = Math.min(rowsPerPass, R - first);
    const sequence = sequenceRows(batch, first, count, device), attentionStart = batch.attentionStart.slice(first, first + count);
    const targets = Tensor.from(batch.tokens.slice(first * T, (first + count) * T), [count * T], { device });
    if (hasHiddenPath(model)) {
      const pass = await hiddenLogprobs(model, sequence, targets, P, T, temperature, { attentionStart }, withEntropy);
      use(first, count, pass.logprobs, pass.entropy);
      pass.dispose();
    } else {
      const picked = gatherResponseLogits(await model.forward(sequence, { attentionStart }), count, P, T);
      const lp = ops.tokenLogprobs(picked, targets, { temperature, entropy: withEntropy });
      use(first, count, lp.logprobs, lp.entropy);
      for (const t of [picked, lp.logprobs, lp.logZ, lp.entropy]) t?.dispose();
    }
    for (const t of [sequence, targets]) t.dispose();
  }
}

/** Log-probs [R * T] of the response tokens under `model` (no gradient), `rowsPerPass` rows at a time. */
export async function responseLogprobs(model: PolicyModel, batch: RolloutBatch, temperature: number, rowsPerPass?: number): Promise<Float32Array>;
/** With `withEntropy`: also the entropy of softmax(logits / temperature) at each response position. */
export async function responseLogprobs(model: PolicyModel, batch: RolloutBatch, temperature: number, rowsPerPass: number, withEntropy: true): Promise<{ logprobs: Float32Array; entropy: Float32Array }>;
export async function responseLogprobs(model: PolicyModel, batch: RolloutBatch, temperature: number, rowsPerPass = 64, withEntropy = false):
  Promise<Float32Array | { logprobs: Float32Array; entropy: Float32Array }> {
  const { R, T } = batch;
  const out = new Float32Array(R * T);
  const entropy = withEntropy ? new Float32Array(R * T) : null;
  await logprobPasses(model, batch, temperature, rowsPerPass, withEntropy, (first, _count, logprobs, passEntropy) => {
    out.set(logprobs.toArray() as Float32Array, first * T);
    if (entropy) entropy.set(passEntropy!.toArray() as Float32Array, first * T);
  });
  for (let i = 0; i < out.length; i++) if (batch.mask[i] === 0) {
    out[i] = 0;
    if (entropy) entropy[i] = 0;
  }
  return entropy ? { logprobs: out, entropy } : out;
}

/**
 * responseLogprobs as a float32 tensor [R, T] on `model.device`, 0 on padding, without a host
 * read: on the cpu the host computation above (same bits), elsewhere each pass's log-probs are
 * copied into the tensor on the device and masked there (device_math.ts).
 */
export async function residentLogprobs(model: PolicyModel, batch: RolloutBatch, temperature: number, rowsPerPass = 64): Promise<Tensor> {
  const { R, T } = batch;
  if (model.device === 'cpu') return Tensor.from(await responseLogprobs(model, batch, temperature, rowsPerPass), [R, T]);
  return (await residentPasses(model, batch, temperature, rowsPerPass, false)).logprobs;
}

/** The device passes of residentLogprobs, with the entropies too when asked (0 on padding as well). */
export async function residentPasses(model: PolicyModel, batch: RolloutBatch, temperature: number, rowsPerPass: number, withEntropy: boolean):
  Promise<{ logprobs: Tensor; entropy?: Tensor }> {
  const { R, T } = batch;
  const device = model.device;
  const raw = Tensor.zeros([R * T], { device }), rawEntropy = withEntropy ? Tensor.zeros([R * T], { device }) : null;
  await logprobPasses(model, batch, temperature, rowsPerPass, withEntropy, (first, count, logprobs, passEntropy) => {
    const copy = (table: Tensor | null, values: Tensor | undefined) => {
      if (table === null || values === undefined) return;
      const into = table.view(first * T, [count * T]), flat = values.reshape([count * T]);
      into.copyFrom(flat);
      into.dispose();
      flat.dispose();
    };
    copy(raw, logprobs);
    copy(rawEntropy, passEntropy);
  });
  const logprobs = maskByLengths(raw, batch.lengths, T);
  raw.dispose();
  if (rawEntropy === null) return { logprobs };
  const entropy = maskByLengths(rawEntropy, batch.lengths, T);
  rawEntropy.dispose();
  return { logprobs, entropy };
}

/** responseValues as a float32 tensor [R, T] on `model.device` (cpu: the host loop's bits; elsewhere gathered on the device). */
export async function residentValues(model: PolicyModel, batch: RolloutBatch, rowsPerPass = 64): Promise<Tensor> {
  const { R, P, T } = batch;
  const device = model.device;
  if (device === 'cpu') return Tensor.from(await responseValues(model, batch, rowsPerPass), [R, T]);
  const out = Tensor.zeros([R * T], { device });
  for (let first = 0; first < R; first += rowsPerPass) {
    const count = Math.min(rowsPerPass, R - first);
    const values = await model.values!(sequenceRows(batch, first, count, device), { attentionStart: batch.attentionStart.slice(first, first + count) });
    // Position P − 1 + t of row r predicts response token t; padding reads the zero row.
    const lengths = batch.lengths.subarray(first, first + count);
    const picked = gather(values, keepIds(lengths, T, (r, t) => r * (P + T) + P - 1 + t, count * (P + T)));
    const into = out.view(first * T, [count * T]);
    into.copyFrom(picked);
    for (const t of [into, picked, values]) t.dispose();
  }
  const shaped = out.reshape([R, T]);
  out.dispose();
  return shaped;
}

/** Value estimates [R * T] at the positions that predict each response token (masked). */
export async function responseValues(model: PolicyModel, batch: RolloutBatch, rowsPerPass = 64): Promise<Float32Array> {
  const { R, P, T } = batch;
  const out = new Float32Array(R * T);
  for (let first = 0; first < R; first += rowsPerPass) {
    const count = Math.min(rowsPerPass, R - first);
    const values = (await model.values!(sequenceRows(batch, first, count, model.device), { attentionStart: batch.attentionStart.slice(first, first + count) })).toArray() as Float32Array;
    for (let r = 0; r < count; r++)
      for (let t = 0; t < T; t++) out[(first + r) * T + t] = batch.mask[(first + r) * T + t] * values[r * (P + T) + P - 1 + t];
  }
  return out;
}
