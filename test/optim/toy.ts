// toy.ts: a trivially learnable task for optimizer tests: answer with lines of 'a'. A tiny
// tokenizer (8 ids) keeps the chance of a rewarded sample high from a random start.
import type { Tokenizer } from '../../lib/model/tokenizer';
import type { Problem, Task, Verdict } from '../../lib/tasks/task';

export class ToyTokenizer implements Tokenizer {
  readonly symbols = ['a', 'b', 'c', 'd', '\n'];
  readonly bosId = 5;
  readonly eosId = 6;
  readonly padId = 7;
  readonly vocabSize = 8;
  encode(text: string): Int32Array {
    return Int32Array.from([...text].map((ch) => this.symbols.indexOf(ch)).filter((i) => i >= 0));
  }
  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) if (ids[i] < this.symbols.length) s += this.symbols[ids[i]];
    return s;
  }
}

/** Reward 1 when the response starts with 'a' (outcome); a step (line) is right when it is all 'a'. */
export class ToyTask implements Task {
  readonly name = 'toy';
  readonly description = 'start the answer with a';
  problems(_split: 'train' | 'test', count: number): Problem[] {
    const prompts = ['b', 'c', 'd', 'bc', 'cd', 'db'];
    return Array.from({ length: count }, (_, i) => ({ id: String(i), prompt: prompts[i % prompts.length], answer: 'a' }));
  }
  solution(): string {
    return 'a\naa';
  }
  verify(_problem: Problem, response: string): Verdict {
    const correct = response.startsWith('a');
    return { correct, reward: correct ? 1 : 0, answer: response.slice(0, 1) || null };
  }
  verifySteps(_problem: Problem, steps: readonly string[]): boolean[] {
    return steps.map((s) => /^a+$/.test(s.trim()));
  }
}
