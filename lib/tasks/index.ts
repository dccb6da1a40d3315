// tasks/index.ts: the embedded tasks by name, and task files ("file:<path>.jsonl").
import { ArgumentError } from '../errors';
import { ArithmeticTask } from './arithmetic';
import { FileTask } from './file_task';
import { SortingTask } from './sorting';
import type { Task } from './task';

export { ArithmeticTask, FileTask, SortingTask };
export type { ArithmeticOptions, ArithmeticProblem, Operator } from './arithmetic';
export type { Problem, Task, Verdict } from './task';
export { answerOf, splitLines } from './task';

export const TASKS: Record<string, () => Task> = {
  arithmetic: () => new ArithmeticTask(),
  'arithmetic-long': () => new ArithmeticTask({ minSteps: 3, maxSteps: 6, operators: ['+', '-', '*'], maxValue: 60 }),
  sorting: () => new SortingTask(),
  // Issue 16's harder task: 6-8 chained operations on two-digit values (carries across tens),
  // keyed ("Compute 2 a*3 b+8 ..." / "b+8: 6+8=14"), responses of 76-114 tokens (mean 98), where
  // the outcome reward alone is sparse (docs/ALGORITHMS-notes.md §4).
  'arithmetic-hard': () => new ArithmeticTask({ minSteps: 6, maxSteps: 8, operators: ['+', '-', '*'], maxOperand: 9, maxMultiplier: 3, maxValue: 99, prompt: 'compact', keyed: true }),
};

export function createTask(name: string): Task {
  if (name.startsWith('file:')) return new FileTask(name.slice(5));
  const make = TASKS[name];
  if (!make) throw ArgumentError.expected('task', `one of ${Object.keys(TASKS).join(', ')} or file:<path.jsonl>`, name);
  return make();
}
