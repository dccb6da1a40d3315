// learn_key.test.ts: the key a `steprl learn` SFT start is reused under: the same task definition,
// SFT budget and model give the same key; a change to the task's options (e.g. restated lines)
// or to the budget gives another, so a stale start is never reused. The per-task cell budget; the
// cell key of main's algorithms (finished cells stay reusable); pspo-linear against pspo.
import { LEARN_TASKS, learnBudget, sftStartKey } from '../../lib/cli/commands/learn';
import { DEFAULT_LEARN_ALGOS, LEARN_ALGORITHMS } from '../../lib/cli/learn_algos';
import { cellSettings } from '../../lib/cli/learn_cell';
import type { RolloutBatch } from '../../lib/optim/batch';
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

// A finished cell is reused while its settings are equal as JSON, so these strings must not move:
// they are the settings of finished cells of a full run made with main at 10cf3af (the
// arithmetic and arithmetic-hard grpo cells), and what that code wrote for a PRL cell.
test('the cell key (settings JSON) of the existing algorithms is what main wrote', () => {
  const given = { evalN: 64, prmNoise: 0.1 };
  const easy = cellSettings(learnBudget('arithmetic', given), LEARN_TASKS.arithmetic!.maxNewTokens, 1796626736388.3552, LEARN_ALGORITHMS.grpo!.lr * 1);
  expect(JSON.stringify(easy)).toBe('{"budget":{"steps":20,"prompts":16,"group":8,"evalProblems":16,"evalN":64,"prmNoise":0.1},"maxNewTokens":40,"sftStamp":1796626736388.3552,"lr":0.0001}');
  const hard = cellSettings(learnBudget('arithmetic-hard', given), LEARN_TASKS['arithmetic-hard']!.maxNewTokens, 1796626971284.2944,
    LEARN_ALGORITHMS.grpo!.lr * LEARN_TASKS['arithmetic-hard']!.lrScale!);
  expect(JSON.stringify(hard)).toBe('{"budget":{"steps":20,"prompts":8,"group":8,"evalProblems":16,"evalN":64,"prmNoise":0.1},"maxNewTokens":128,"sftStamp":1796626971284.2944,"lr":0.00005}');
  const prlCell = cellSettings(learnBudget('arithmetic', given), 40, 1, LEARN_ALGORITHMS.prl!.lr, 12.5);
  expect(JSON.stringify(prlCell)).toBe('{"budget":{"steps":20,"prompts":16,"group":8,"evalProblems":16,"evalN":64,"prmNoise":0.1},"maxNewTokens":40,"sftStamp":1,"lr":0.0001,"prlEta":12.5}');
  // Main's algorithms keep their learning rates, value heads and order; pspo-linear is added beside them.
  const main = { grpo: 1e-4, 'dr-grpo': 1e-4, dapo: 1e-4, ppo: 5e-5, pspo: 5e-5, 'pspo-free': 1e-4, prl: 1e-4, prpo: 1e-4, 'process-grpo': 1e-4 };
  for (const [name, lr] of Object.entries(main)) expect(LEARN_ALGORITHMS[name]!.lr).toBe(lr);
  expect(DEFAULT_LEARN_ALGOS.filter((a) => a in main)).toEqual(Object.keys(main));
  expect(DEFAULT_LEARN_ALGOS).toContain('pspo-linear');
  expect(Object.entries(LEARN_ALGORITHMS).filter(([, a]) => a.valueHead).map(([n]) => n).sort()).toEqual(['ppo', 'pspo', 'pspo-linear']);
});

test('pspo-linear is pspo (critic, lr, loss) with the linear shaping R = s̄', async () => {
  const linear = LEARN_ALGORITHMS['pspo-linear']!, weibull = LEARN_ALGORITHMS.pspo!;
  expect(linear.lr).toBe(weibull.lr);
  expect(linear.valueHead).toBe(weibull.valueHead);
  const a = linear.make({ prlEta: 1 }), b = weibull.make({ prlEta: 1 });
  expect(a.name).toBe('pspo');
  // The loss settings carry the options object: the same but for the shaping itself.
  expect(JSON.stringify({ ...a.loss, shaping: undefined })).toBe(JSON.stringify(b.loss));
  expect((a.loss as { shaping?: string }).shaping).toBe('linear');
  expect(JSON.stringify(a.needs)).toBe(JSON.stringify(b.needs));
  // Two groups of two rows (3 tokens each) with 2-4 PRM step scores.
  const stepScores = [[0.9, 0.8, 0.7], [0.95, 0.05], [0.5, 0.6, 0.7, 0.8], [0.9, 0.9]];
  const R = 4, T = 3;
  const batch = {
    R, T, P: 1, groupIds: Int32Array.from([0, 0, 1, 1]), mask: new Float32Array(R * T).fill(1), lengths: Int32Array.from([3, 3, 3, 3]),
    oldLogprobs: new Float32Array(R * T), oldValues: new Float32Array(R * T), rewards: Float32Array.from([1, 0, 1, 1]), stepScores,
  } as unknown as RolloutBatch;
  const shaped = (await a.advantages(batch, { rewardKlCoef: 0 })).scores!;
  const geomean = stepScores.map((s) => Math.exp(s.reduce((x, v) => x + Math.log(v), 0) / s.length));
  for (let i = 0; i < R; i++) expect(shaped[i]).toBeCloseTo(geomean[i], 5);
  const nonlinear = (await b.advantages(batch, { rewardKlCoef: 0 })).scores!;
  expect(Math.max(...geomean.map((g, i) => Math.abs(nonlinear[i] - g)))).toBeGreaterThan(0.01);
});
