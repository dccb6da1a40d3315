// sorting.ts: a second embedded task of a different shape: sort a short list of numbers, one step
// per line, each step the sorted prefix one element longer (selection sort's invariant).
//   "Sort: 42 7 19 3"  ->  "3\n3 7\n3 7 19\n3 7 19 42\nAnswer: 3 7 19 42"
import { ArgumentError } from '../errors';
import { Random } from '../util/random';
import { answerOf, generatedProblems, type Problem, type Task, type Verdict } from './task';

export interface SortingProblem extends Problem {
  values: number[];
}

export class SortingTask implements Task<SortingProblem> {
  readonly name = 'sorting';
  readonly description = 'sort a list of numbers (one growing sorted prefix per line, then "Answer: ...")';

  constructor(readonly options: { minLength?: number; maxLength?: number; maxValue?: number } = {}) {
    const { minLength = 3, maxLength = 5, maxValue = 50 } = options;
    if (!Number.isInteger(minLength) || minLength < 2 || !Number.isInteger(maxLength) || maxLength < minLength || maxLength > 8)
      throw ArgumentError.expected('options', 'minLength >= 2 and minLength <= maxLength <= 8', options);
    if (!Number.isInteger(maxValue) || maxValue < maxLength) throw ArgumentError.expected('options.maxValue', `an integer >= maxLength`, maxValue);
  }

  #generate(random: Random): SortingProblem {
    const { minLength = 3, maxLength = 5, maxValue = 50 } = this.options;
    const n = random.int(minLength, maxLength + 1);
    const values = Array.from({ length: n }, () => random.int(0, maxValue + 1));
    return { id: values.join(','), prompt: `Sort: ${values.join(' ')}`, answer: [...values].sort((a, b) => a - b).join(' '), values };
  }

  problems(split: 'train' | 'test', count: number, seed = 0): SortingProblem[] {
    // Held-out problems come from their own stream and never share a computation with training.
    return generatedProblems(split, count, seed, { test: 0x50f7, train: 0x5027 }, (random) => this.#generate(random));
  }

  solution(problem: SortingProblem, options: { flawed?: boolean; random?: Random } = {}): string {
    const sorted = [...problem.values].sort((a, b) => a - b);
    const random = options.random ?? new Random(1);
    const wrongAt = options.flawed ? random.int(0, sorted.length) : -1;
    const lines: string[] = [];
    const prefix: number[] = [];
    sorted.forEach((v, k) => {
      prefix.push(k === wrongAt ? v + random.pick([1, 2, -1].filter((d) => v + d >= 0)) : v);
      lines.push(prefix.join(' '));
    });
    lines.push(`Answer: ${prefix.join(' ')}`);
    return lines.join('\n');
  }

  verify(problem: SortingProblem, response: string): Verdict {
    const answer = answerOf(response);
    const correct = answer !== null && answer.split(/\s+/).join(' ') === problem.answer;
    return { correct, reward: correct ? 1 : 0, answer };
  }

  verifySteps(problem: SortingProblem, steps: readonly string[]): boolean[] {
    const sorted = [...problem.values].sort((a, b) => a - b);
    let consistent = true;
    return steps.map((step, k) => {
      const line = step.trim();
      const answer = /^Answer:\s*(.*)$/.exec(line);
      const expected = answer ? sorted.join(' ') : sorted.slice(0, k + 1).join(' ');
      const got = (answer ? answer[1] : line).split(/\s+/).join(' ');
      const ok = consistent && got === expected && (!answer || k === sorted.length);
      if (!ok) consistent = false;
      return ok;
    });
  }
}
