// file_task.ts: a task read from a JSON Lines file, one problem per line:
//   {"prompt": "...", "answer": "...", "steps": ["...", "..."], "split": "train"|"test"}
// `steps` (optional) are a reference solution: a response's step k is right when it equals it
// (whitespace-normalized). Lines without a split go to train. Malformed lines stop with the line number.
import * as fs from 'node:fs';

import { FormatError } from '../errors';
import { Random } from '../util/random';
import { answerOf, type Problem, type Task, type Verdict } from './task';

export interface FileProblem extends Problem {
  steps?: string[];
}

const normalize = (s: string) => s.trim().split(/\s+/).join(' ');

export class FileTask implements Task<FileProblem> {
  readonly name: string;
  readonly description: string;
  readonly #train: FileProblem[] = [];
  readonly #test: FileProblem[] = [];

  constructor(readonly file: string) {
    this.name = `file:${file}`;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      throw new FormatError(file, `cannot read the task file (${(error as Error).message})`);
    }
    text.split('\n').forEach((line, index) => {
      if (line.trim() === '') return;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line);
      } catch (error) {
        throw new FormatError(file, `line ${index + 1} is not JSON (${(error as Error).message})`);
      }
      if (typeof record !== 'object' || record === null || typeof record.prompt !== 'string' || typeof record.answer !== 'string')
        throw new FormatError(file, `line ${index + 1}: expected {"prompt": string, "answer": string, ...}`);
      if (record.steps !== undefined && (!Array.isArray(record.steps) || record.steps.some((s) => typeof s !== 'string')))
        throw new FormatError(file, `line ${index + 1}: expected "steps" to be an array of strings`);
      if (record.split !== undefined && record.split !== 'train' && record.split !== 'test')
        throw new FormatError(file, `line ${index + 1}: expected "split" to be "train" or "test" but received ${JSON.stringify(record.split)}`);
      const problem: FileProblem = { id: `${index}`, prompt: record.prompt, answer: record.answer, steps: record.steps as string[] | undefined };
      (record.split === 'test' ? this.#test : this.#train).push(problem);
    });
    if (this.#train.length === 0) throw new FormatError(file, 'no training problems (every line has "split": "test", or the file is empty)');
    this.description = `${this.#train.length} training and ${this.#test.length} held-out problems from ${file}`;
  }

  problems(split: 'train' | 'test', count: number, seed = 0): FileProblem[] {
    const pool = split === 'test' ? this.#test : this.#train;
    const order = new Random(seed).shuffle(pool.map((_, i) => i));
    return Array.from({ length: Math.min(count, pool.length) }, (_, i) => pool[order[i]]);
  }

  solution(problem: FileProblem): string {
    return [...(problem.steps ?? []), `Answer: ${problem.answer}`].join('\n');
  }

  verify(problem: FileProblem, response: string): Verdict {
    const answer = answerOf(response);
    const correct = answer !== null && normalize(answer) === normalize(problem.answer);
    return { correct, reward: correct ? 1 : 0, answer };
  }

  verifySteps(problem: FileProblem, steps: readonly string[]): boolean[] {
    const reference = [...(problem.steps ?? []), `Answer: ${problem.answer}`].map(normalize);
    let consistent = true;
    return steps.map((s, k) => {
      consistent = consistent && normalize(s) === reference[k];
      return consistent;
    });
  }
}
