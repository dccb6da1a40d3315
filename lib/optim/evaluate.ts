// evaluate.ts: held-out evaluation of a policy on a task: n samples per problem give avg@n (mean
// correctness) and pass@n (any sample correct), as PRL's eval defines them (§4.4); and best-of-N
// selection (Lightman et al., §2) of one answer per problem by a PRM's solution score, an
// outcome-only scorer (ORM) or majority vote, for several N from the same samples.
import type { PolicyModel } from '../model/policy';
import type { Tokenizer } from '../model/tokenizer';
import * as ops from '../ops/index';
import { Tensor } from '../tensor';
import { bestOfN, majorityVote } from '../reward/selection';
import type { ProcessRewardModel } from '../reward/prm';
import { splitLines, type Task } from '../tasks/task';
import { promptText, type LoadedSample } from '../text/dataset';
import { promptFormatFor, type PromptFormat } from '../text/prompt';
import { combineRewards, type Verifier } from '../text/reward';
import { taskReward } from '../text/task';

export interface Samples {
  problems: LoadedSample[];
  /** [problem][sample] response text and correctness. */
  texts: string[][];
  correct: boolean[][];
  answers: (string | null)[][];
}

/** `judge`: a task (its verifier) or a verifier (e.g. combineRewards(...)); prompts as the Trainer renders them. */
export async function sampleResponses(
  policy: PolicyModel, tokenizer: Tokenizer, judge: Task | Verifier<LoadedSample>, problems: readonly LoadedSample[],
  options: {
    n: number; maxNewTokens: number; temperature?: number; seed?: number; rowsPerBatch?: number; promptFormat?: PromptFormat | 'chat' | 'plain';
    onProgress?: (done: number, total: number) => void;
  },
): Promise<Samples> {
  const n = options.n, rowsPerBatch = options.rowsPerBatch ?? 128;
  const verify = typeof judge === 'function' ? judge : combineRewards(taskReward(judge));
  const format = promptFormatFor(tokenizer, options.promptFormat);
  const rows = problems.flatMap((p, i) => Array.from({ length: n }, () => i));
  const texts = problems.map(() => [] as string[]), correct = problems.map(() => [] as boolean[]), answers = problems.map(() => [] as (string | null)[]);
  for (let first = 0; first < rows.length; first += rowsPerBatch) {
    const chunk = rows.slice(first, first + rowsPerBatch);
    const out = await policy.generate(chunk.map((i) => format(problems[i], tokenizer)), {
      maxNewTokens: options.maxNewTokens, temperature: options.temperature ?? 1, seed: ((options.seed ?? 0) + first) >>> 0,
      stopTokens: tokenizer.stopIds ?? [tokenizer.eosId],
    });
    const T = out.tokens.shape[1], tokens = out.tokens.toArray() as Int32Array;
    const rowTexts = chunk.map((_, r) => tokenizer.decode(tokens.subarray(r * T, r * T + out.lengths[r])));
    const verdicts = await Promise.all(chunk.map((i, r) => verify(rowTexts[r], problems[i])));
    chunk.forEach((i, r) => {
      texts[i].push(rowTexts[r]);
      correct[i].push(verdicts[r].correct);
      answers[i].push(verdicts[r].answer);
    });
    for (const t of [out.tokens, out.mask, out.logprobs, out.entropy]) t.dispose();
    options.onProgress?.(Math.min(first + rowsPerBatch, rows.length), rows.length);
  }
  return { problems: [...problems], texts, correct, answers };
}

export interface AccuracyReport {
  n: number;
  problems: number;
  /** mean over problems of the fraction of correct samples */
  avg: number;
  /** fraction of problems with at least one correct sample */
  pass: number;
}

export function accuracy(samples: Samples): AccuracyReport {
  const n = samples.correct[0]?.length ?? 0, P = samples.problems.length;
  let avg = 0, pass = 0;
  for (const c of samples.correct) {
    avg += c.filter(Boolean).length / Math.max(c.length, 1);
    if (c.some(Boolean)) pass++;
  }
  return { n, problems: P, avg: avg / Math.max(P, 1), pass: pass / Math.max(P, 1) };
}

export type Selector = 'prm' | 'orm' | 'majority';

/**
 * Each sample's solution scores: PRM = product of its step scores, ORM = the outcome score of the
 * last step alone (what an outcome-only reward model sees); a response without steps scores -1.
 * A rule-based PRM must know the problems (register them first).
 */
export async function solutionScores(samples: Samples, prm: ProcessRewardModel): Promise<{ prm: number; orm: number }[][]> {
  // Step scores of every sample, then the PRM's solution score (product, §2) of all of them at once.
  const stepScores: number[][] = [];
  for (let i = 0; i < samples.problems.length; i++)
    for (const text of samples.texts[i]) {
      const steps = splitLines(text);
      stepScores.push(steps.length ? await prm.scoreSteps(promptText(samples.problems[i]), steps.map((s) => s + '\n'), samples.problems[i]) : []);
    }
  const offsets = new Int32Array(stepScores.length + 1);
  stepScores.forEach((s, i) => (offsets[i + 1] = offsets[i] + s.length));
  const product = ops.prmScore(Tensor.from(Float32Array.from(stepScores.flat()), [offsets[stepScores.length]]),
    Tensor.from(offsets, [offsets.length]), { aggregate: 'product' }).toArray() as Float32Array;
  const scores: { prm: number; orm: number }[][] = [];
  let k = 0;
  for (let i = 0; i < samples.problems.length; i++)
    scores.push(samples.texts[i].map(() => {
      const s = stepScores[k];
      // A response without steps scores -1: never preferred over one with steps.
      const out = { prm: s.length ? product[k] : -1, orm: s.length ? s[s.length - 1] : -1 };
      k++;
      return out;
    }));
  return scores;
}

/**
 * Best-of-N accuracy for each N in `sizes` (N ≤ the samples per problem; the first N samples are
 * the candidates): PRM = product of step scores, ORM = the outcome score of the last step alone
 * (what an outcome-only reward model sees), majority = the most frequent answer.
 */
export async function bestOfNAccuracy(samples: Samples, prm: ProcessRewardModel, sizes: readonly number[]): Promise<Record<Selector, Record<number, number>>> {
  const scores = await solutionScores(samples, prm);
  const result: Record<Selector, Record<number, number>> = { prm: {}, orm: {}, majority: {} };
  for (const N of sizes) {
    let prmHits = 0, ormHits = 0, majorityHits = 0;
    samples.problems.forEach((problem, i) => {
      const candidates = scores[i].slice(0, N);
      if (samples.correct[i][bestOfN(candidates.map((c) => c.prm))]) prmHits++;
      if (samples.correct[i][bestOfN(candidates.map((c) => c.orm))]) ormHits++;
      if (majorityVote(samples.answers[i].slice(0, N)) === problem.answer) majorityHits++;
    });
    const P = Math.max(samples.problems.length, 1);
    result.prm[N] = prmHits / P;
    result.orm[N] = ormHits / P;
    result.majority[N] = majorityHits / P;
  }
  return result;
}

/**
 * Per problem, the best-of-N hit rate of each selector averaged over the disjoint groups of N of its
 * n samples (floor(n/N) groups: samples 0..N-1, N..2N-1, ...), for each N in `sizes` (1 ≤ N ≤ n);
 * `scores` from solutionScores. Using every group (not only the first) lowers the variance at small N.
 */
export function bestOfNPerProblem(samples: Samples, scores: readonly { prm: number; orm: number }[][], sizes: readonly number[]): Record<Selector, Record<number, number[]>> {
  const result: Record<Selector, Record<number, number[]>> = { prm: {}, orm: {}, majority: {} };
  for (const N of sizes) {
    for (const sel of ['prm', 'orm', 'majority'] as const) result[sel][N] = [];
    samples.problems.forEach((problem, i) => {
      const n = samples.correct[i].length, groups = Math.floor(n / N);
      if (!(Number.isInteger(N) && N >= 1 && groups >= 1)) throw new RangeError(`bestOfNPerProblem: expected 1 <= N <= ${n} samples, received N = ${N}`);
      let prm = 0, orm = 0, majority = 0;
      for (let g = 0; g < groups; g++) {
        const from = g * N, candidates = scores[i].slice(from, from + N);
        if (samples.correct[i][from + bestOfN(candidates.map((c) => c.prm))]) prm++;
        if (samples.correct[i][from + bestOfN(candidates.map((c) => c.orm))]) orm++;
        if (majorityVote(samples.answers[i].slice(from, from + N)) === problem.answer) majority++;
      }
      result.prm[N].push(prm / groups);
      result.orm[N].push(orm / groups);
      result.majority[N].push(majority / groups);
    });
  }
  return result;
}
