// reward.ts: rewards, step splitters and PRMs as plain functions. A reward function takes the
// completion text and its sample and returns a number (or a promise of one, so async verifiers,
// sandboxes and remote judges work); several are summed with weights. A verdict's `correct`
// (what accuracy counts and PRPO's ±1 outcome uses) is the function's own when it returns
// `{ reward, correct }`, otherwise "the weighted sum reaches correctThreshold" (default 1).
import { ArgumentError, describe } from '../errors';
import type { ProcessRewardModel } from '../reward/prm';
import { stepsFromEnds, type StepSplitter } from '../reward/splitters';
import type { Verdict } from '../tasks/task';
import { promptText, type Sample } from './dataset';

export interface RewardResult {
  reward: number;
  correct?: boolean;
  /** The final answer the completion gave (for majority voting), when the function knows it. */
  answer?: string | null;
}

export type RewardFunction<S extends Sample = Sample> = (completion: string, sample: S) => number | RewardResult | Promise<number | RewardResult>;

export interface WeightedReward<S extends Sample = Sample> {
  fn: RewardFunction<S>;
  weight?: number;
  /** Named in error messages. Default the function's name. */
  name?: string;
}

/** Turns one completion and its sample into a verdict (what the trainer calls). */
export type Verifier<S extends Sample = Sample> = (completion: string, sample: S) => Promise<Verdict>;

export interface CombineOptions {
  /** A completion is correct when the weighted sum is at least this (unless a function says). Default 1. */
  correctThreshold?: number;
}

/** One verifier from one reward function or a weighted list of them (weights default to 1). */
export function combineRewards<S extends Sample = Sample>(
  rewards: RewardFunction<S> | readonly (RewardFunction<S> | WeightedReward<S>)[], options: CombineOptions = {},
): Verifier<S> {
  const list = (typeof rewards === 'function' ? [rewards] : rewards).map((r, i) => {
    const w: WeightedReward<S> = typeof r === 'function' ? { fn: r } : r;
    if (typeof w?.fn !== 'function') throw ArgumentError.expected(`rewards[${i}]`, 'a function or { fn, weight }', r);
    const weight = w.weight ?? 1;
    if (!Number.isFinite(weight)) throw ArgumentError.expected(`rewards[${i}].weight`, 'a finite number', w.weight);
    return { fn: w.fn, weight, name: w.name ?? (w.fn.name || `rewards[${i}]`) };
  });
  if (list.length === 0) throw ArgumentError.expected('rewards', 'at least one reward function', rewards);
  const threshold = options.correctThreshold ?? 1;
  return async (completion, sample) => {
    const results = await Promise.all(list.map(async ({ fn, name }) => {
      let value: unknown;
      try {
        value = await fn(completion, sample);
      } catch (error) {
        throw new ArgumentError(name, `reward function ${name} failed on sample ${sample.id ?? '?'}: ${(error as Error)?.message ?? String(error)}`);
      }
      const result: RewardResult = typeof value === 'number' ? { reward: value } : (value as RewardResult);
      if (typeof result !== 'object' || result === null || typeof result.reward !== 'number' || !Number.isFinite(result.reward))
        throw new ArgumentError(name, `Expected a finite number or { reward: number } from reward function ${name} (sample ${sample.id ?? '?'}) but received ${describe(value)}`);
      return result;
    }));
    let reward = 0;
    results.forEach((r, i) => (reward += list[i].weight * r.reward));
    const told = results.find((r) => typeof r.correct === 'boolean');
    const answered = results.find((r) => r.answer !== undefined);
    return { reward, correct: told ? told.correct! : reward >= threshold, answer: answered?.answer ?? null };
  };
}

/** A PRM as a plain function: one score in [0, 1] per step. */
export type PrmFunction = (prompt: string, steps: readonly string[], sample: Sample) => number[] | Promise<number[]>;

/** A ProcessRewardModel from a function or an object with scoreSteps; checks what it returns. */
export function toPrm(prm: PrmFunction | ProcessRewardModel): ProcessRewardModel {
  const score = typeof prm === 'function' ? prm : (p: string, s: readonly string[], sample?: Sample) => prm.scoreSteps(p, s, sample);
  if (typeof score !== 'function' || (typeof prm !== 'function' && typeof prm?.scoreSteps !== 'function'))
    throw ArgumentError.expected('prm', 'a function (prompt, steps, sample) => number[] or an object with scoreSteps', prm);
  const wrapped: ProcessRewardModel & { register?: unknown } = {
    async scoreSteps(prompt, steps, sample) {
      const scores = await score(prompt, steps, sample ?? { prompt });
      if (!Array.isArray(scores) || scores.length !== steps.length || scores.some((x) => typeof x !== 'number' || !Number.isFinite(x)))
        throw new ArgumentError('prm', `Expected ${steps.length} finite step scores from the PRM but received ${describe(scores)}`);
      return scores;
    },
  };
  const register = typeof prm !== 'function' ? (prm as { register?: unknown }).register : undefined;
  if (typeof register === 'function') wrapped.register = register.bind(prm);
  return wrapped;
}

/** The PRM's view of a sample: its prompt text (last user message for chats). */
export const prmPrompt = promptText;

/**
 * A token-space splitter from a text one: `split(completion)` returns the steps in order (pieces
 * of the completion; text between two pieces joins the later step, text after the last one the
 * last step). A step ends at the token that holds its last character.
 */
export function textSplitter(split: (completion: string) => readonly string[]): StepSplitter {
  return (input) => {
    const starts: number[] = [];
    let text = '';
    for (const id of input.tokens) {
      starts.push(text.length);
      text += input.tokenizer.decode([id]);
    }
    const ends: number[] = [];
    let cursor = 0;
    for (const piece of split(text)) {
      if (piece.length === 0) continue;
      const at = text.indexOf(piece, cursor);
      if (at < 0) throw new ArgumentError('splitter', `Expected the step splitter to return pieces of the completion in order but received ${JSON.stringify(piece.slice(0, 40))}`);
      cursor = at + piece.length;
      // The token holding character cursor - 1: the last token starting at or before it.
      let t = starts.length - 1;
      while (t > 0 && starts[t] > cursor - 1) t--;
      ends.push(t);
    }
    return stepsFromEnds(input, ends);
  };
}
