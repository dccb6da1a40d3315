// arithmetic_hard.test.ts: the harder embedded task of issue 16 (`arithmetic-hard`, keyed lines:
// "b+8: 6+8=14") and the restated-lines variant tried for it (ArithmeticTask's `restate`:
// "6+8=14 +4 *3"): the rule-based step check of key, computation and remainder, the lengths of the
// worked solutions, validation.
import { ArgumentError } from '../../lib/errors';
import { ArithmeticTask, type ArithmeticProblem } from '../../lib/tasks/arithmetic';
import { createTask } from '../../lib/tasks/index';
import { ByteTokenizer } from '../../lib/model/tokenizer';
import { Random } from '../../lib/util/random';

const problem: ArithmeticProblem = {
  id: 'x', prompt: 'Compute 2 *3 +8 +4 step by step.', answer: '18', start: 2,
  operations: [{ op: '*', operand: 3 }, { op: '+', operand: 8 }, { op: '+', operand: 4 }],
};

test('restated solutions: each step line ends with the operations still to do', () => {
  const task = new ArithmeticTask({ prompt: 'compact', restate: true, operators: ['+', '*'] });
  expect(task.solution(problem)).toBe('2*3=6 +8 +4\n6+8=14 +4\n14+4=18\nAnswer: 18');
  expect(task.verifySteps(problem, ['2*3=6 +8 +4', '6+8=14 +4', '14+4=18', 'Answer: 18'])).toEqual([true, true, true, true]);
  // A wrong remainder, a missing one, or one with an extra operation makes the step wrong (and
  // every later step, as for a wrong value).
  expect(task.verifySteps(problem, ['2*3=6 +8 +5', '6+8=14 +4', '14+4=18', 'Answer: 18'])).toEqual([false, false, false, false]);
  expect(task.verifySteps(problem, ['2*3=6', '6+8=14 +4', '14+4=18', 'Answer: 18'])).toEqual([false, false, false, false]);
  expect(task.verifySteps(problem, ['2*3=6 +8 +4', '6+8=14 +4 +4', '14+4=18', 'Answer: 18'])).toEqual([true, false, false, false]);
  expect(task.verifySteps(problem, ['2*3=6 +8 +4', '6+8=14 +4', '14+4=18 +1', 'Answer: 18'])).toEqual([true, true, false, false]);
  // Without restate the plain lines are right and restated ones are not.
  const plain = new ArithmeticTask({ prompt: 'compact', operators: ['+', '*'] });
  expect(plain.solution(problem)).toBe('2*3=6\n6+8=14\n14+4=18\nAnswer: 18');
  expect(plain.verifySteps(problem, ['2*3=6', '6+8=14', '14+4=18', 'Answer: 18'])).toEqual([true, true, true, true]);
  expect(plain.verifySteps(problem, ['2*3=6 +8 +4', '6+8=14', '14+4=18', 'Answer: 18'])).toEqual([false, false, false, false]);
});

test('keyed solutions: the prompt labels each operation, each step line starts with its label', () => {
  const task = new ArithmeticTask({ prompt: 'compact', keyed: true, minSteps: 3, maxSteps: 3, operators: ['+', '*'] });
  const p = task.problems('test', 1, 0)[0]!;
  expect(p.prompt).toMatch(/^Compute \d+ a[+*]\d+ b[+*]\d+ c[+*]\d+ step by step\.$/);
  expect(task.solution(problem)).toBe('a*3: 2*3=6\nb+8: 6+8=14\nc+4: 14+4=18\nAnswer: 18');
  expect(task.verifySteps(problem, ['a*3: 2*3=6', 'b+8: 6+8=14', 'c+4: 14+4=18', 'Answer: 18'])).toEqual([true, true, true, true]);
  // A wrong key, a label whose operation differs from the prompt's, a missing label, or a right
  // label with the wrong operation after it: the step is wrong, and so is every later one.
  expect(task.verifySteps(problem, ['a*3: 2*3=6', 'c+8: 6+8=14', 'c+4: 14+4=18', 'Answer: 18'])).toEqual([true, false, false, false]);
  expect(task.verifySteps(problem, ['a*3: 2*3=6', 'b+4: 6+4=10', 'c+4: 10+4=14', 'Answer: 14'])).toEqual([true, false, false, false]);
  expect(task.verifySteps(problem, ['2*3=6', 'b+8: 6+8=14', 'c+4: 14+4=18', 'Answer: 18'])).toEqual([false, false, false, false]);
  expect(task.verifySteps(problem, ['a*3: 2*3=6', 'b+8: 6+4=10', 'c+4: 10+4=14', 'Answer: 14'])).toEqual([true, false, false, false]);
  expect(task.verify(problem, 'a*3: 2*3=6\nb+8: 6+8=14\nc+4: 14+4=18\nAnswer: 18').correct).toBe(true);
  // Unkeyed lines do not pass the keyed check, nor keyed lines the plain one.
  expect(new ArithmeticTask({ prompt: 'compact' }).verifySteps(problem, ['a*3: 2*3=6'])).toEqual([false]);
});

test.each([
  ['keyed (the task as defined)', {}, 76, 114],
  ['plain lines', { keyed: false }, 46, 84],
  ['restated', { keyed: false, restate: true }, 91, 168],
] as const)('arithmetic-hard, %s: every worked solution verifies, flawed ones have a wrong step and a wrong answer line', (_name, change, shortest, longest) => {
  const task = new ArithmeticTask({ ...(createTask('arithmetic-hard') as ArithmeticTask).options, ...change });
  const tokenizer = new ByteTokenizer();
  const problems = task.problems('train', 300, 0);
  const random = new Random(3);
  const lengths: number[] = [];
  for (const p of problems) {
    const right = task.solution(p);
    expect(task.verify(p, right).correct).toBe(true);
    expect(task.verifySteps(p, right.split('\n')).every(Boolean)).toBe(true);
    lengths.push(tokenizer.encode(right).length + 1);
    const verdicts = task.verifySteps(p, task.solution(p, { flawed: true, random }).split('\n'));
    expect(verdicts.indexOf(false)).toBeGreaterThanOrEqual(0);
    expect(verdicts[verdicts.length - 1]).toBe(false); // the answer line of a chain with a wrong step
  }
  // Keyed: 76-114 tokens; plain lines: 46-84; restated: 91-168 (docs/ALGORITHMS-notes.md §4),
  // inside the embedded model's 256 positions with the prompt (at most 57 tokens).
  expect(Math.min(...lengths)).toBeGreaterThanOrEqual(shortest);
  expect(Math.max(...lengths)).toBeLessThanOrEqual(longest);
});

test('keyed must be a boolean, and needs compact prompts', () => {
  expect(() => new ArithmeticTask({ prompt: 'compact', keyed: 1 as unknown as boolean })).toThrow(/options\.keyed/);
  expect(() => new ArithmeticTask({ keyed: true })).toThrow(ArgumentError);
  expect(() => new ArithmeticTask({ keyed: true })).toThrow(/options\.prompt/);
});

test('restate must be a boolean', () => {
  expect(() => new ArithmeticTask({ restate: 'yes' as unknown as boolean })).toThrow(ArgumentError);
  expect(() => new ArithmeticTask({ restate: 'yes' as unknown as boolean })).toThrow(/options\.restate/);
});
