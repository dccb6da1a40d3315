// rollout.ts: from prompts to a scored RolloutBatch: generate G completions per prompt, lay the
// rows out as [left-padded prompt | response], decode and verify them, and attach what the
// algorithm needs (reference log-probs, rollout values, steps and their PRM scores).
import * as ops from '../ops/index';
import { Tensor } from '../tensor';
import type { PolicyModel, SamplingOptions } from '../model/policy';
import type { Tokenizer } from '../model/tokenizer';
import type { ProcessRewardModel } from '../reward/prm';
import { stepsFromEnds, type StepSplit, type StepSplitter } from '../reward/splitters';
import type { Problem, Task } from '../tasks/task';
import type { RolloutBatch } from './batch';
import { hasHiddenPath, hiddenLogprobs } from './hidden_path';

export function promptTokens(tokenizer: Tokenizer, problem: Problem): Int32Array {
  const text = tokenizer.encode(`${problem.prompt}\n`);
  return tokenizer.bosId === null ? text : Int32Array.from([tokenizer.bosId, ...text]);
}

export interface RolloutOptions {
  groupSize: number;
  sampling: SamplingOptions;
}

export async function collectRollouts(
  policy: PolicyModel, tokenizer: Tokenizer, task: Task, problems: readonly Problem[], options: RolloutOptions,
): Promise<RolloutBatch> {
  const G = options.groupSize;
  const prompts: Int32Array[] = [];
  const rowProblems: Problem[] = [];
  const groupIds = new Int32Array(problems.length * G);
  problems.forEach((p, g) => {
    const ids = promptTokens(tokenizer, p);
    for (let i = 0; i < G; i++) {
      groupIds[prompts.length] = g;
      prompts.push(ids);
      rowProblems.push(p);
    }
  });
  const out = await policy.generate(prompts, options.sampling);
  const R = prompts.length, T = out.tokens.shape[1];
  const P = Math.max(...prompts.map((p) => p.length));
  const tokens = out.tokens.toArray() as Int32Array;
  const sequences = new Int32Array(R * (P + T)).fill(tokenizer.padId);
  const attentionStart = new Int32Array(R);
  const texts: string[] = [];
  for (let r = 0; r < R; r++) {
    attentionStart[r] = P - prompts[r].length;
    sequences.set(prompts[r], r * (P + T) + attentionStart[r]);
    sequences.set(tokens.subarray(r * T, (r + 1) * T), r * (P + T) + P);
    texts.push(tokenizer.decode(tokens.subarray(r * T, r * T + out.lengths[r])));
  }
  const verdicts = rowProblems.map((p, r) => task.verify(p, texts[r]));
  const batch: RolloutBatch = {
    R, P, T, problems: rowProblems, groupIds, sequences, attentionStart, tokens,
    mask: out.mask.toArray() as Float32Array, oldLogprobs: out.logprobs.toArray() as Float32Array,
    entropy: out.entropy.toArray() as Float32Array, lengths: out.lengths, texts, verdicts,
    rewards: Float32Array.from(verdicts, (v) => v.reward),
  };
  for (const t of [out.tokens, out.mask, out.logprobs, out.entropy]) t.dispose();
  return batch;
}

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

/** Log-probs [R * T] of the response tokens under `model` (no gradient), `rowsPerPass` rows at a time. */
export async function responseLogprobs(model: PolicyModel, batch: RolloutBatch, temperature: number, rowsPerPass = 64): Promise<Float32Array> {
  const { R, P, T } = batch;
  const out = new Float32Array(R * T);
  for (let first = 0; first < R; first += rowsPerPass) {
    const count = Math.min(rowsPerPass, R - first);
    const sequence = sequenceRows(batch, first, count, model.device), attentionStart = batch.attentionStart.slice(first, first + count);
    const targets = Tensor.from(batch.tokens.slice(first * T, (first + count) * T), [count * T], { device: model.device });
    if (hasHiddenPath(model)) {  // no logits buffer (hidden_path.ts)
      const pass = await hiddenLogprobs(model, sequence, targets, P, T, temperature, { attentionStart });
      out.set(pass.logprobs.toArray() as Float32Array, first * T);
      pass.dispose();
    } else {
      const picked = gatherResponseLogits(await model.forward(sequence, { attentionStart }), count, P, T);
      const lp = ops.tokenLogprobs(picked, targets, { temperature });
      out.set(lp.logprobs.toArray() as Float32Array, first * T);
      for (const t of [picked, lp.logprobs, lp.logZ]) t.dispose();
    }
    for (const t of [sequence, targets]) t.dispose();
  }
  for (let i = 0; i < out.length; i++) if (batch.mask[i] === 0) out[i] = 0;
  return out;
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

/** Splits every response into steps and, with a PRM, scores them. */
export async function scoreSteps(
  batch: RolloutBatch, tokenizer: Tokenizer, splitter: StepSplitter | 'entropy', prm: ProcessRewardModel | undefined,
  entropySegments: { maxBranches: number; minGap: number },
): Promise<void> {
  const { R, T } = batch;
  let steps: StepSplit[];
  if (splitter === 'entropy') {
    const segments = ops.entropySegments(Tensor.from(batch.entropy, [R, T]), Tensor.from(batch.mask, [R, T]), entropySegments).toArray() as Int32Array;
    steps = [];
    for (let r = 0; r < R; r++) {
      const L = batch.lengths[r];
      const ends: number[] = [];
      for (let t = 0; t + 1 < L; t++) if (segments[r * T + t + 1] !== segments[r * T + t]) ends.push(t);
      steps.push(stepsFromEnds({ tokens: batch.tokens.subarray(r * T, r * T + L), tokenizer }, ends));
    }
  } else {
    steps = Array.from({ length: R }, (_, r) => splitter({
      tokens: batch.tokens.subarray(r * T, r * T + batch.lengths[r]), tokenizer,
      entropy: batch.entropy.subarray(r * T, r * T + batch.lengths[r]),
    }));
  }
  batch.steps = steps;
  if (prm) batch.stepScores = await Promise.all(steps.map((s, r) => prm.scoreSteps(batch.problems[r].prompt, s.texts)));
}
