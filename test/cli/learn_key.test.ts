// learn_key.test.ts: the key a `steprl learn` SFT start is reused under: the same task definition,
// SFT budget and model give the same key; a change to the task's options (e.g. restated lines)
// or to the budget gives another, so a stale start is never reused. And the per-task cell budget.
import { LEARN_TASKS, learnBudget, sftStartKey } from '../../lib/cli/commands/learn';
import { ArithmeticTask } from '../../lib/tasks/arithmetic';
import { createTask } from '../../lib/tasks/index';

test('the SFT start key follows the task definition and the SFT budget', () => {
  const budget = { problems: 6000, epochs: 4 };
  const key = JSON.stringify(sftStartKey('arithmetic-hard', createTask('arithmetic-hard'), budget));
  expect(JSON.stringify(sftStartKey('arithmetic-hard', createTask('arithmetic-hard'), budget))).toBe(key);
  const options = (createTask('arithmetic-hard') as ArithmeticTask).options;
  const restated = new ArithmeticTask({ ...options, restate: !options.restate });
  expect(JSON.stringify(sftStartKey('arithmetic-hard', restated, budget))).not.toBe(key);
  expect(JSON.stringify(sftStartKey('arithmetic-hard', createTask('arithmetic-hard'), { problems: 6000, epochs: 3 }))).not.toBe(key);
  expect(JSON.stringify(sftStartKey('arithmetic', createTask('arithmetic'), budget))).not.toBe(key);
  expect(key).toContain(`"restate":${options.restate}`);
  expect(key).toContain('"keyed":true');
  const unkeyed = new ArithmeticTask({ ...options, keyed: false });
  expect(JSON.stringify(sftStartKey('arithmetic-hard', unkeyed, budget))).not.toBe(key);
  expect(key).toContain('"hiddenSize":128');
});

test('each task has its own cell budget; the flags override each part, --quick overrides all', () => {
  const given = { evalN: 64, prmNoise: 0.1 };
  for (const name of Object.keys(LEARN_TASKS)) expect(learnBudget(name, given)).toEqual({ ...LEARN_TASKS[name]!.budget, ...given });
  expect(learnBudget('arithmetic-hard', { ...given, steps: 3, group: 16 })).toEqual({ ...LEARN_TASKS['arithmetic-hard']!.budget, ...given, steps: 3, group: 16 });
  expect(learnBudget('file:x.jsonl', given).evalN).toBe(64);
  expect(learnBudget('arithmetic-hard', { ...given, steps: 99 }, true)).toEqual({ steps: 2, prompts: 2, group: 4, evalProblems: 4, evalN: 16, prmNoise: 0.1 });
});
