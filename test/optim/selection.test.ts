// selection.test.ts: best-of-N and majority voting (§2), the evaluation metrics avg@n / pass@n
// (§4.4), and the rule-based PRM's chunk judgement (a chunk is right when every line it touches is).
import { bestOfN, majorityVote } from '../../lib/reward/selection';
import { accuracy, bestOfNAccuracy, type Samples } from '../../lib/optim/evaluate';
import { RuleBasedPRM } from '../../lib/reward/prm';
import { ArithmeticTask, type ArithmeticProblem } from '../../lib/tasks/arithmetic';

test('best-of-N picks the highest score, ties to the lowest index; majority vote the most frequent answer', () => {
  expect(bestOfN([0.2, 0.9, 0.9, 0.1])).toBe(1);
  expect(bestOfN([])).toBe(-1);
  expect(majorityVote(['3', null, '4', '4', '3'])).toBe('3');
  expect(majorityVote([null, null])).toBeNull();
});

describe('evaluation on the arithmetic task', () => {
  const task = new ArithmeticTask();
  const [p] = task.problems('test', 1) as ArithmeticProblem[];
  const right = task.solution(p);
  const wrong = task.solution(p, { flawed: true });

  test('avg@n and pass@n', () => {
    const samples: Samples = { problems: [p, p], texts: [[right, wrong], [wrong, wrong]], correct: [[true, false], [false, false]], answers: [[p.answer, 'x'], ['x', 'x']] };
    expect(accuracy(samples)).toEqual({ n: 2, problems: 2, avg: 0.25, pass: 0.5 });
  });

  test('best-of-N by the PRM prefers the solution whose steps are right', async () => {
    const prm = new RuleBasedPRM(task);
    prm.register([p]);
    const samples: Samples = { problems: [p], texts: [[wrong, right, right]], correct: [[false, true, true]], answers: [['x', p.answer, p.answer]] };
    const result = await bestOfNAccuracy(samples, prm, [1, 2, 3]);
    expect(result.prm[1]).toBe(0);
    expect(result.prm[2]).toBe(1);
    expect(result.majority[3]).toBe(1);
  });

  test('the rule-based PRM judges arbitrary chunks by the lines they touch', () => {
    const prm = new RuleBasedPRM(task);
    prm.register([p]);
    const lines = wrong.split('\n').map((l) => l + '\n');
    const labels = prm.labels(p.prompt, lines);
    expect(labels).toEqual(task.verifySteps(p, wrong.split('\n')));
    // Split the first line in two chunks: both take its verdict.
    const half = Math.floor(lines[0].length / 2);
    expect(prm.labels(p.prompt, [lines[0].slice(0, half), lines[0].slice(half), ...lines.slice(1)]).slice(0, 2)).toEqual([labels[0], labels[0]]);
    expect(prm.scoreSteps(p.prompt, lines).map((s) => s > 0.5)).toEqual(labels);
  });
});
