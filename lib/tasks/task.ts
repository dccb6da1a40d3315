// task.ts: what a task gives the trainer: problems (seeded, with train and held-out splits), a
// reference solution (one step per line, then a final answer line) for supervised warm-up, an
// outcome verifier, and a rule-based step verifier that acts as a process reward model (PRM).
import { ArgumentError } from '../errors';
import { Random } from '../util/random';

export interface Problem {
  /** Stable key (used to keep the held-out split disjoint from training). */
  id: string;
  prompt: string;
  /** The correct final answer, as the solution's answer line writes it. */
  answer: string;
}

export interface Verdict {
  correct: boolean;
  /** Outcome reward: 1 for a correct final answer, 0 otherwise. */
  reward: number;
  /** The answer the response gave, or null when it has no answer line. */
  answer: string | null;
}

export interface Task<P extends Problem = Problem> {
  readonly name: string;
  readonly description: string;
  /** `count` problems of a split; the same (split, count, seed) always gives the same list. */
  problems(split: 'train' | 'test', count: number, seed?: number): P[];
  /** A worked solution: steps one per line, then "Answer: ...". Flawed ones contain one wrong step. */
  solution(problem: P, options?: { flawed?: boolean; random?: Random }): string;
  /** Checks the final answer line. */
  verify(problem: P, response: string): Verdict;
  /** Per step (the response's lines before and including the answer line): is it right? */
  verifySteps(problem: P, steps: readonly string[]): boolean[];
}

/** The steps of a response: its non-empty lines, up to and including the first answer line. */
export function splitLines(response: string): string[] {
  const steps: string[] = [];
  for (const line of response.split('\n')) {
    if (line.trim() === '') continue;
    steps.push(line);
    if (/^Answer:/.test(line.trim())) break;
  }
  return steps;
}

/** The text after "Answer:" on the first answer line, trimmed, or null. */
export function answerOf(response: string): string | null {
  for (const line of response.split('\n')) {
    const m = /^\s*Answer:\s*(.*?)\s*$/.exec(line);
    if (m) return m[1];
  }
  return null;
}

/**
 * The problems of a generated task: held-out ones from their own stream (seeded streams.test ^
 * seed), distinct by id; training ones from another (streams.train ^ seed), never sharing an id
 * with the first 512 held-out problems.
 */
export function generatedProblems<P extends Problem>(
  split: 'train' | 'test', count: number, seed: number, streams: { test: number; train: number }, generate: (random: Random) => P,
): P[] {
  if (!Number.isInteger(count) || count < 0) throw ArgumentError.expected('count', 'a non-negative integer', count);
  const heldOut = new Set<string>();
  const testRandom = new Random(streams.test ^ seed);
  const wantTest = split === 'test' ? count : 512;
  const test: P[] = [];
  for (let i = 0; test.length < wantTest && i < wantTest * 20; i++) {
    const p = generate(testRandom);
    if (!heldOut.has(p.id)) {
      heldOut.add(p.id);
      test.push(p);
    }
  }
  if (split === 'test') return test;
  const random = new Random(streams.train ^ seed);
  const train: P[] = [];
  for (let i = 0; train.length < count && i < count * 50 + 1000; i++) {
    const p = generate(random);
    if (!heldOut.has(p.id)) train.push(p);
  }
  return train;
}
