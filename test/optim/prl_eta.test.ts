// prl_eta.test.ts: PRL's data-driven η (lib/optim/prl_eta.ts) on the harder task's response
// lengths: with the paper's η = 200 the process term S/η is negligible next to |Â| (PRL = GRPO),
// with the rule's η it is about the target fraction and PRL's advantages differ from GRPO's.
import { taskEnvironment } from '../../lib/text/task';
import { ByteTokenizer } from '../../lib/model/tokenizer';
import { TinyLM } from '../../lib/model/tinylm';
import { Tensor } from '../../lib/tensor';
import { grpo } from '../../lib/optim/grpo';
import { prl } from '../../lib/optim/prl';
import { prlEta, prlRatio } from '../../lib/optim/prl_eta';
import { collectRollouts, responseLogprobs, scoreSteps } from '../../lib/optim/rollout';
import { maskedAbsMean, suffixLogRatioAbs } from '../../lib/optim/signal';
import { fixedLengthSplitter } from '../../lib/reward/splitters';
import { createTask } from '../../lib/tasks/index';
import { Random } from '../../lib/util/random';
import { TINY } from '../../lib/cli/setup';

test('the rule: η = E|S|/(ρ*·|Â|) (E|S| measured, or κ·L/2) and its inverse; bad inputs are typed errors', () => {
  expect(prlEta({ suffixAbs: 0.4, outcomeAbs: 0.8, targetRatio: 0.25 })).toBeCloseTo(2, 12);
  expect(prlEta({ meanLength: 80, klPerToken: 0.01, outcomeAbs: 0.8, targetRatio: 0.25 })).toBeCloseTo(2, 12);
  expect(prlRatio(2, { meanLength: 80, klPerToken: 0.01, outcomeAbs: 0.8 })).toBeCloseTo(0.25, 12);
  expect(() => prlEta({ meanLength: 80, klPerToken: 0, outcomeAbs: 0.8 })).toThrow(/klPerToken/);
  expect(() => prlEta({ meanLength: NaN, klPerToken: 0.01, outcomeAbs: 0.8 })).toThrow(/meanLength/);
});

test('arithmetic-hard: η = 200 leaves PRL = GRPO; the rule\'s η makes the process term about the target size', async () => {
  const tokenizer = new ByteTokenizer();
  const task = createTask('arithmetic-hard');
  const policy = TinyLM.create(TINY, { seed: 1 });
  // A reference a little away from the policy, as after some RL steps.
  const reference = policy.clone();
  const random = new Random(9);
  const w = reference.weightBuffer.toArray() as Float32Array;
  reference.weightBuffer.copyFrom(Tensor.from(Float32Array.from(w, (x) => x * (1 + 0.1 * random.normal())), [w.length]));
  const problems = task.problems('train', 4, 0);
  const batch = await collectRollouts(policy, tokenizer, taskEnvironment(task), problems, { groupSize: 4, sampling: { maxNewTokens: 128, temperature: 1, stopTokens: [tokenizer.eosId], seed: 3 } });
  // An untrained model writes no newlines; split at the hard task's line length instead (~11 tokens).
  await scoreSteps(batch, tokenizer, fixedLengthSplitter(11), undefined, { maxBranches: 5, minGap: 4 });
  batch.refLogprobs = await responseLogprobs(reference, batch, 1);
  // An untrained model solves nothing: give each group two correct rollouts so Â is not 0.
  batch.rewards = Float32Array.from({ length: batch.R }, (_, r) => (r % 4 < 2 ? 1 : 0));
  const meanLength = batch.lengths.reduce((a, b) => a + b, 0) / batch.R;
  expect(meanLength).toBeGreaterThan(60);
  const suffixAbs = suffixLogRatioAbs(batch.oldLogprobs, batch.refLogprobs, batch.mask, batch.T);
  expect(suffixAbs).toBeGreaterThan(0);
  const g = (await grpo().advantages(batch, { rewardKlCoef: 0 })).advantages;
  const outcomeAbs = maskedAbsMean(g, batch.mask);
  const paper = await prl({ splitter: fixedLengthSplitter(11), eta: 200 }).advantages(batch, { rewardKlCoef: 0 });
  const eta = prlEta({ suffixAbs, outcomeAbs });
  const ruled = await prl({ splitter: fixedLengthSplitter(11), eta }).advantages(batch, { rewardKlCoef: 0 });
  expect(eta).toBeLessThan(200);
  expect(paper.signal!.ratio).toBeLessThan(0.05);
  // Step mode reads S at each step's end, not at every token: about, not exactly, the target 0.25.
  expect(ruled.signal!.ratio).toBeGreaterThan(0.15);
  expect(ruled.signal!.ratio).toBeLessThan(0.35);
  let diff = 0;
  for (let i = 0; i < g.length; i++) diff = Math.max(diff, Math.abs(ruled.advantages[i] - g[i]));
  expect(diff).toBeGreaterThan(0.1);
  policy.dispose();
  reference.dispose();
});
