// arithmetic.ts: multi-step arithmetic word problems, the embedded default task.
//   "Ana has 7 coins. She finds 5. She loses 3. How many now?"
//   solution: "7+5=12\n12-3=9\nAnswer: 9"
// Configurable steps (2-8), operators and number range; every intermediate value stays in
// [0, maxValue]. Step k is right when it reads "a op b=c" with a the previous value (the start for
// k = 0), op and b the problem's k-th operation, and c = a op b; the answer line is right when it
// gives the final value. `prompt: 'compact'` states the chain as "Compute 47 +38 -19 *3 step by
// step." (short prompts leave room for long chains in the embedded model's 256 positions);
// `keyed` labels each operation with a letter ("Compute 47 a+38 b-19 c*3 ...") that its step line
// starts with, followed by the operation ("b-19: 85-19=66").
import { ArgumentError } from '../errors';
import { Random } from '../util/random';
import { answerOf, generatedProblems, type Problem, type Task, type Verdict } from './task';

export type Operator = '+' | '-' | '*';

export interface ArithmeticProblem extends Problem {
  start: number;
  operations: { op: Operator; operand: number }[];
}

export interface ArithmeticOptions {
  minSteps?: number;
  maxSteps?: number;
  operators?: readonly Operator[];
  /** Operands of + and − and the starting value are drawn from [1, maxOperand]. */
  maxOperand?: number;
  /** Operands of × are drawn from [2, maxMultiplier]. */
  maxMultiplier?: number;
  /** Every intermediate value stays in [0, maxValue]. */
  maxValue?: number;
  /** 'words' (default): a word problem; 'compact': "Compute 47 +38 -19 *3 step by step." */
  prompt?: 'words' | 'compact';
  /** Each step line ends with the remaining operations (" -19 *3"); default false. */
  restate?: boolean;
  /**
   * Each operation carries a letter key ('compact' prompts only): the prompt reads
   * "Compute 47 a+38 b-19 c*3 step by step." and step k's line starts with its key and the
   * operation copied from the prompt ("b-19: 85-19=66"), so which operation comes next is a
   * look-up by key rather than a count of lines; default false.
   */
  keyed?: boolean;
}

/** The keys of the operations of a keyed problem, in order (at most 8 operations). */
const KEYS = 'abcdefgh';

const PEOPLE: readonly [string, string][] = [
  ['Ana', 'She'], ['Ben', 'He'], ['Cai', 'He'], ['Dee', 'She'], ['Eli', 'He'], ['Fay', 'She'], ['Gus', 'He'], ['Ivy', 'She'],
];
const ITEMS = ['coins', 'apples', 'cards', 'pens', 'eggs', 'cups'];
const PHRASES: Record<Operator, readonly string[]> = {
  '+': ['gets {n}', 'finds {n}', 'buys {n}'],
  '-': ['loses {n}', 'gives {n} away', 'sells {n}'],
  '*': ['gets {n} times as many', 'ends with {n} times as many'],
};

const apply = (a: number, op: Operator, b: number): number => (op === '+' ? a + b : op === '-' ? a - b : a * b);

export class ArithmeticTask implements Task<ArithmeticProblem> {
  readonly name = 'arithmetic';
  readonly description = 'multi-step arithmetic word problems (one step per line, then "Answer: N")';
  readonly options: Required<ArithmeticOptions>;

  constructor(options: ArithmeticOptions = {}) {
    const o = {
      minSteps: options.minSteps ?? 2,
      maxSteps: options.maxSteps ?? 3,
      operators: options.operators ?? (['+', '-'] as Operator[]),
      maxOperand: options.maxOperand ?? 9,
      maxMultiplier: options.maxMultiplier ?? 3,
      maxValue: options.maxValue ?? 30,
      prompt: options.prompt ?? 'words',
      restate: options.restate ?? false,
      keyed: options.keyed ?? false,
    };
    if (!Number.isInteger(o.minSteps) || o.minSteps < 1 || o.minSteps > 8)
      throw ArgumentError.expected('options.minSteps', 'an integer between 1 and 8', o.minSteps);
    if (!Number.isInteger(o.maxSteps) || o.maxSteps < o.minSteps || o.maxSteps > 8)
      throw ArgumentError.expected('options.maxSteps', `an integer between minSteps (${o.minSteps}) and 8`, o.maxSteps);
    if (!Array.isArray(o.operators) || o.operators.length === 0 || o.operators.some((op) => !(op in PHRASES)))
      throw ArgumentError.expected('options.operators', "a non-empty array of '+', '-', '*'", o.operators);
    if (!Number.isInteger(o.maxOperand) || o.maxOperand < 1) throw ArgumentError.expected('options.maxOperand', 'an integer >= 1', o.maxOperand);
    if (!Number.isInteger(o.maxValue) || o.maxValue < o.maxOperand) throw ArgumentError.expected('options.maxValue', `an integer >= maxOperand (${o.maxOperand})`, o.maxValue);
    if (o.prompt !== 'words' && o.prompt !== 'compact') throw ArgumentError.expected('options.prompt', "'words' or 'compact'", o.prompt);
    if (typeof o.restate !== 'boolean') throw ArgumentError.expected('options.restate', 'a boolean', o.restate);
    if (typeof o.keyed !== 'boolean') throw ArgumentError.expected('options.keyed', 'a boolean', o.keyed);
    if (o.keyed && o.prompt !== 'compact') throw ArgumentError.expected('options.prompt', "'compact' when keyed is true", o.prompt);
    this.options = o as Required<ArithmeticOptions>;
  }

  #generate(random: Random): ArithmeticProblem {
    const o = this.options;
    const steps = random.int(o.minSteps, o.maxSteps + 1);
    const start = random.int(1, o.maxOperand + 1);
    const operations: { op: Operator; operand: number }[] = [];
    let value = start;
    for (let k = 0; k < steps; k++) {
      // Draw until the operation keeps the value in range (subtraction needs a > 0, × small values).
      for (let attempt = 0; ; attempt++) {
        const op = random.pick(o.operators);
        const operand = op === '*' ? random.int(2, o.maxMultiplier + 1) : random.int(1, o.maxOperand + 1);
        const next = apply(value, op, operand);
        if ((next >= 0 && next <= o.maxValue) || attempt > 50) {
          if (next < 0 || next > o.maxValue) operations.push({ op: '+', operand: 0 });
          else operations.push({ op, operand });
          value = next < 0 || next > o.maxValue ? value : next;
          break;
        }
      }
    }
    const key = `${start}${operations.map((s) => s.op + s.operand).join('')}`;
    if (o.prompt === 'compact') {
      const prompt = `Compute ${start} ${operations.map((s, k) => this.#key(k) + s.op + s.operand).join(' ')} step by step.`;
      return { id: key, prompt, answer: String(value), start, operations };
    }
    const [name, pronoun] = random.pick(PEOPLE);
    const item = random.pick(ITEMS);
    const sentences = [`${name} has ${start} ${item}.`];
    for (const { op, operand } of operations) sentences.push(`${pronoun} ${random.pick(PHRASES[op]).replace('{n}', String(operand))}.`);
    sentences.push('How many now?');
    return { id: key, prompt: sentences.join(' '), answer: String(value), start, operations };
  }

  problems(split: 'train' | 'test', count: number, seed = 0): ArithmeticProblem[] {
    // Held-out problems come from their own stream and never share a computation with training.
    return generatedProblems(split, count, seed, { test: 0x7e57, train: 0x7a1 }, (random) => this.#generate(random));
  }

  solution(problem: ArithmeticProblem, options: { flawed?: boolean; random?: Random } = {}): string {
    const random = options.random ?? new Random(1);
    const wrongAt = options.flawed ? random.int(0, problem.operations.length) : -1;
    const lines: string[] = [];
    let value = problem.start;
    problem.operations.forEach(({ op, operand }, k) => {
      let next = apply(value, op, operand);
      if (k === wrongAt) next += random.pick([-2, -1, 1, 2, 10, -10].filter((d) => next + d >= 0));
      lines.push(`${this.#label(problem, k)}${value}${op}${operand}=${next}${this.#remainder(problem, k + 1)}`);
      value = next;
    });
    lines.push(`Answer: ${value}`);
    return lines.join('\n');
  }

  /** Operation k's key in a keyed prompt ('' when not keyed). */
  #key(k: number): string {
    return this.options.keyed ? KEYS[k]! : '';
  }

  /** What step k's line starts with: "b-19: " when keyed (the key and the operation as the prompt states it), else ''. */
  #label(problem: ArithmeticProblem, k: number): string {
    const operation = problem.operations[k];
    return this.options.keyed && operation ? `${KEYS[k]}${operation.op}${operation.operand}: ` : '';
  }

  /** What a restated step line ends with: " -19 *3" for the operations from index `from` on ('' without restate). */
  #remainder(problem: ArithmeticProblem, from: number): string {
    return this.options.restate ? problem.operations.slice(from).map((s) => ` ${s.op}${s.operand}`).join('') : '';
  }

  verify(problem: ArithmeticProblem, response: string): Verdict {
    const answer = answerOf(response);
    const correct = answer !== null && answer === problem.answer;
    return { correct, reward: correct ? 1 : 0, answer };
  }

  verifySteps(problem: ArithmeticProblem, steps: readonly string[]): boolean[] {
    let expected = problem.start;
    let consistent = true;
    return steps.map((step, k) => {
      const line = step.trim();
      const answer = /^Answer:\s*(-?\d+)$/.exec(line);
      if (answer) return consistent && k === problem.operations.length && Number(answer[1]) === expected;
      const m = /^((?:[a-h][+\-*]\d+: )?)(-?\d+)([+\-*])(\d+)=(-?\d+)((?: [+\-*]\d+)*)$/.exec(line);
      const operation = problem.operations[k];
      const ok = m !== null && operation !== undefined && m[1] === this.#label(problem, k) && Number(m[2]) === expected && m[3] === operation.op &&
        Number(m[4]) === operation.operand && Number(m[5]) === apply(expected, operation.op, operation.operand) &&
        m[6] === this.#remainder(problem, k + 1);
      if (ok) expected = Number(m![5]);
      else consistent = false;
      return ok;
    });
  }
}
