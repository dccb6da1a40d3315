// rollout.ts: from samples to a scored RolloutBatch: render each prompt (the environment's prompt
// format), generate G completions per prompt (or take them from a RolloutSource and recompute
// their log-probs with the policy), lay the rows out as [left-padded prompt | response], decode
// and verify them (reward functions may be async), and attach what the algorithm needs
// (reference log-probs, rollout values, steps and their PRM scores). The model passes over a
// batch's responses (log-probs, entropies, values) are in response_passes.ts, re-exported here.
import * as ops from '../ops/index';
import type { Tensor } from '../tensor';
import type { PolicyModel, SamplingOptions } from '../model/policy';
import type { Tokenizer } from '../model/tokenizer';
import type { ProcessRewardModel } from '../reward/prm';
import { stepsFromEnds, type StepSplit, type StepSplitter } from '../reward/splitters';
import { ArgumentError } from '../errors';
import { promptText, type LoadedSample, type Sample } from '../text/dataset';
import { defaultPromptFormat, type PromptFormat } from '../text/prompt';
import type { Verifier } from '../text/reward';
import { attachTensor, tensorOf, type RolloutBatch } from './batch';
import { residentPasses, responseLogprobs } from './response_passes';

export {
  gatherResponseLogits, residentLogprobs, residentValues, responseLogprobs, responseValues, scatterResponseGrad, sequenceRows,
} from './response_passes';

/** `[bos, ...encode(prompt + "\n")]`: the default prompt format (text/prompt.ts), kept for callers. */
export function promptTokens(tokenizer: Tokenizer, problem: Pick<Sample, 'prompt'>): Int32Array {
  return defaultPromptFormat(problem, tokenizer);
}

/** Where completions come from when not from the policy itself (e.g. an OpenAI-compatible server). */
export interface RolloutSource {
  /**
   * One completion per request, as token ids of the policy's tokenizer; a completion that stopped
   * on a stop token ends with it. Log-probs are recomputed by the policy, so only tokens matter.
   */
  generate(requests: readonly { prompt: Int32Array; sample: LoadedSample }[], sampling: SamplingOptions): Promise<Int32Array[]>;
}

/** What turns samples into prompts and completions into verdicts. */
export interface RolloutEnvironment {
  promptFormat: PromptFormat;
  verify: Verifier<LoadedSample>;
  /** Completions from elsewhere; default: the policy generates them. */
  source?: RolloutSource;
}

export interface RolloutOptions {
  groupSize: number;
  sampling: SamplingOptions;
  /** Rows per recomputing forward when completions come from a RolloutSource. */
  rowsPerPass?: number;
}

export async function collectRollouts(
  policy: PolicyModel, tokenizer: Tokenizer, env: RolloutEnvironment, problems: readonly LoadedSample[], options: RolloutOptions,
): Promise<RolloutBatch> {
  const G = options.groupSize;
  const prompts: Int32Array[] = [];
  const rowProblems: LoadedSample[] = [];
  const groupIds = new Int32Array(problems.length * G);
  problems.forEach((p, g) => {
    const ids = env.promptFormat(p, tokenizer);
    for (let i = 0; i < G; i++) {
      groupIds[prompts.length] = g;
      prompts.push(ids);
      rowProblems.push(p);
    }
  });
  const R = prompts.length;
  const P = Math.max(...prompts.map((p) => p.length));
  let T: number, tokens: Int32Array, mask: Float32Array, oldLogprobs: Float32Array, entropy: Float32Array, lengths: Int32Array;
  /** The generated per-token floats, as tensors on the policy's device (attached to the batch below). */
  let generated: { mask: Tensor; logprobs: Tensor; entropy: Tensor } | null = null;
  if (env.source) {
    const completions = await env.source.generate(prompts.map((prompt, r) => ({ prompt, sample: rowProblems[r] })), options.sampling);
    if (completions.length !== R) throw new ArgumentError('source', `Expected ${R} completions from the rollout source but received ${completions.length}`);
    T = Math.max(1, ...completions.map((c) => c.length));
    tokens = new Int32Array(R * T).fill(tokenizer.padId);
    mask = new Float32Array(R * T);
    lengths = Int32Array.from(completions, (c) => c.length);
    completions.forEach((c, r) => {
      tokens.set(c, r * T);
      mask.fill(1, r * T, r * T + c.length);
    });
    oldLogprobs = new Float32Array(R * T);
    entropy = new Float32Array(R * T);
  } else {
    const out = await policy.generate(prompts, options.sampling);
    T = out.tokens.shape[1];
    // The host takes the sampled ids (texts, sequences) and nothing else: the mask, log-probs and
    // entropies stay tensors on the policy's device (moved there if generate() made them elsewhere).
    tokens = out.tokens.toArray() as Int32Array;
    lengths = out.lengths;
    const onPolicy = (t: Tensor): Tensor => {
      if (t.device === policy.device) return t;
      const moved = t.to(policy.device);
      t.dispose();
      return moved;
    };
    generated = { mask: onPolicy(out.mask), logprobs: onPolicy(out.logprobs), entropy: onPolicy(out.entropy) };
    out.tokens.dispose();
    // Placeholders: the tensors replace them (attachTensor) before anyone reads the batch.
    mask = oldLogprobs = entropy = new Float32Array(0);
  }
  const sequences = new Int32Array(R * (P + T)).fill(tokenizer.padId);
  const attentionStart = new Int32Array(R);
  const texts: string[] = [];
  for (let r = 0; r < R; r++) {
    attentionStart[r] = P - prompts[r].length;
    sequences.set(prompts[r], r * (P + T) + attentionStart[r]);
    sequences.set(tokens.subarray(r * T, (r + 1) * T), r * (P + T) + P);
    texts.push(tokenizer.decode(tokens.subarray(r * T, r * T + lengths[r])));
  }
  const verdicts = await Promise.all(rowProblems.map((p, r) => env.verify(texts[r], p)));
  const batch: RolloutBatch = {
    R, device: policy.device, P, T, problems: rowProblems, groupIds, sequences, attentionStart, tokens,
    mask, oldLogprobs, entropy, lengths, texts, verdicts,
    rewards: Float32Array.from(verdicts, (v) => v.reward),
  };
  if (generated) {
    attachTensor(batch, 'mask', generated.mask);
    attachTensor(batch, 'oldLogprobs', generated.logprobs);
    attachTensor(batch, 'entropy', generated.entropy);
  }
  if (env.source) {
    // The policy's own log-probs and entropies of the outside completions (what the update's ratio needs).
    const temperature = options.sampling.temperature || 1;
    if (policy.device === 'cpu') {
      const recomputed = await responseLogprobs(policy, batch, temperature, options.rowsPerPass ?? 64, true);
      batch.oldLogprobs = recomputed.logprobs;
      batch.entropy = recomputed.entropy!;
    } else {  // they stay on the device (attached tensors)
      const recomputed = await residentPasses(policy, batch, temperature, options.rowsPerPass ?? 64, true);
      attachTensor(batch, 'oldLogprobs', recomputed.logprobs);
      attachTensor(batch, 'entropy', recomputed.entropy!);
    }
  }
  return batch;
}

/** Splits every response into steps and, with a PRM, scores them. */
export async function scoreSteps(
  batch: RolloutBatch, tokenizer: Tokenizer, splitter: StepSplitter | 'entropy', prm: ProcessRewardModel | undefined,
  entropySegments: { maxBranches: number; minGap: number },
): Promise<void> {
  const { R, T } = batch;
  let steps: StepSplit[];
  if (splitter === 'entropy') {
    // On the batch's device (its entropies never come to the host); the segment ids do: the steps'
    // texts are made on the host for the PRM.
    const device = batch.device ?? 'cpu';
    const entropy = tensorOf(batch, 'entropy', device, [R, T])!, mask = tensorOf(batch, 'mask', device, [R, T])!;
    const segments = ops.entropySegments(entropy, mask, entropySegments).toArray() as Int32Array;
    steps = [];
    for (let r = 0; r < R; r++) {
      const L = batch.lengths[r];
      const ends: number[] = [];
      for (let t = 0; t + 1 < L; t++) if (segments[r * T + t + 1] !== segments[r * T + t]) ends.push(t);
      steps.push(stepsFromEnds({ tokens: batch.tokens.subarray(r * T, r * T + L), tokenizer }, ends));
    }
  } else {
    // A splitter may look at the entropies: they are read to the host (once, lazily) when it does.
    const entropyOf = (r: number) => batch.entropy.subarray(r * T, r * T + batch.lengths[r]);
    steps = Array.from({ length: R }, (_, r) => {
      const args = { tokens: batch.tokens.subarray(r * T, r * T + batch.lengths[r]), tokenizer } as Parameters<StepSplitter>[0];
      Object.defineProperty(args, 'entropy', { enumerable: true, get: () => entropyOf(r) });
      return splitter(args);
    });
  }
  batch.steps = steps;
  if (prm) batch.stepScores = await Promise.all(steps.map((s, r) => prm.scoreSteps(promptText(batch.problems[r]), s.texts, batch.problems[r])));
}
