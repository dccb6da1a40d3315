// learned_prm.test.ts: the learned PRM (§2.1) on the toy task: TinyLM reads prompt + steps with a
// separator after each, is trained by cross-entropy over three label logits at the separators
// only, and then scores right steps (lines of 'a') above wrong ones on held-out solutions.
import { TinyLM } from '../../lib/model/tinylm';
import { LearnedPRM, labelledSolutions } from '../../lib/reward/learned_prm';
import { Random } from '../../lib/util/random';
import { ToyTask, ToyTokenizer } from './toy';

test('a learned PRM separates right from wrong steps after training', async () => {
  const tokenizer = new ToyTokenizer();
  const task = new ToyTask();
  // The toy's worked solution is "a\\naa"; a flawed one has a wrong line. Mix in random wrong lines too.
  const random = new Random(4);
  const wrongLines = ['b', 'cd', 'ab', 'ba', 'dd', 'aab'];
  const data = [
    ...labelledSolutions({ ...task, solution: () => 'a\naa', verifySteps: task.verifySteps.bind(task) }, task.problems('train', 60), { seed: 1 }),
    ...Array.from({ length: 120 }, (_, i) => {
      const steps = [random.next() < 0.5 ? 'a'.repeat(1 + (i % 3)) : random.pick(wrongLines), random.next() < 0.5 ? 'aa' : random.pick(wrongLines)];
      const ok = steps.map((s) => /^a+$/.test(s));
      const cut = ok.indexOf(false) < 0 ? 2 : ok.indexOf(false) + 1;
      return { prompt: 'b', steps: steps.slice(0, cut), labels: ok.slice(0, cut).map((x) => (x ? 1 : -1)) as (1 | -1)[] };
    }),
  ];
  const model = TinyLM.create({ vocabSize: 8, hiddenSize: 32, numLayers: 2, numHeads: 2, intermediateSize: 64, maxPositions: 64 }, { seed: 2 });
  // Separator: the pad id (never a step character); labels negative/neutral/positive: ids 1, 2, 0.
  const prm = new LearnedPRM(model, tokenizer, { separatorId: 7, labelIds: [1, 2, 0], bosId: 5, padId: 7 });
  const before = await prm.scoreSteps('c', ['aa', 'cd']);
  const result = await prm.train(data, { epochs: 12, batchSize: 16, lr: 3e-3 });
  expect(result.accuracy).toBeGreaterThan(0.9);
  const good = await prm.scoreSteps('c', ['aa', 'a']);
  const bad = await prm.scoreSteps('d', ['bd', 'ab']);
  expect(Math.min(...good)).toBeGreaterThan(0.8);
  expect(Math.max(...bad)).toBeLessThan(0.2);
  expect(before.every((p) => p > 0.2 && p < 0.5)).toBe(true); // untrained: near a third
});
