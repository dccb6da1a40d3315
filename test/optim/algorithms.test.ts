// algorithms.test.ts: every optimizer runs end to end on TinyLM with a toy verifier and PRM:
// losses and gradients are finite, parameters change, and on a trivially learnable task (answer
// with lines of 'a') the reward each algorithm optimizes rises within a few steps; for those
// whose reward is the outcome, so does the probability of the rewarded first token.
import { Tensor, ops } from '../../lib';
import { TinyLM } from '../../lib/model/tinylm';
import { Trainer } from '../../lib/optim/base';
import type { Algorithm } from '../../lib/optim/algorithm';
import { grpo } from '../../lib/optim/grpo';
import { ppo } from '../../lib/optim/ppo';
import { pspo } from '../../lib/optim/pspo';
import { prl } from '../../lib/optim/prl';
import { prpo } from '../../lib/optim/prpo';
import { processGrpo } from '../../lib/optim/process_grpo';
import { rloo } from '../../lib/optim/rloo';
import { reinforcePP } from '../../lib/optim/reinforce_pp';
import { gspo } from '../../lib/optim/gspo';
import { cispo } from '../../lib/optim/cispo';
import { RuleBasedPRM } from '../../lib/reward/prm';
import { newlineSplitter } from '../../lib/reward/splitters';
import { ToyTask, ToyTokenizer } from './toy';

const tokenizer = new ToyTokenizer();
const task = new ToyTask();

/** P(first response token = 'a') averaged over the toy prompts. */
async function probabilityOfA(model: TinyLM): Promise<number> {
  const prompts = task.problems('test', 6).map((p) => Int32Array.from([tokenizer.bosId, ...tokenizer.encode(p.prompt + '\n')]));
  let sum = 0;
  for (const prompt of prompts) {
    const logits = await model.forward(Tensor.from(prompt, [1, prompt.length]));
    const last = logits.view((prompt.length - 1) * tokenizer.vocabSize, [1, tokenizer.vocabSize]);
    const lp = ops.tokenLogprobs(Tensor.from(last.toArray(), [1, tokenizer.vocabSize]), Tensor.from(new Int32Array([0]), [1]));
    sum += Math.exp(lp.logprobs.toArray()[0]);
  }
  return sum / prompts.length;
}

// [name, algorithm, critic, rewarded by the outcome]
const CASES: [string, () => Algorithm, boolean, boolean][] = [
  ['grpo', () => grpo(), false, true],
  ['dr-grpo', () => grpo({ variant: 'dr-grpo' }), false, true],
  ['dapo', () => grpo({ variant: 'dapo' }), false, true],
  ['ppo', () => ppo({ epochs: 2, miniBatches: 2 }), true, true],
  // The toy's answers often have a single line: PSPO's default minSteps (2) would give them reward 0.
  ['pspo (critic)', () => pspo({ splitter: newlineSplitter, epochs: 2, miniBatches: 2, minSteps: 1 }), true, false],
  ['pspo (critic-free)', () => pspo({ splitter: newlineSplitter, critic: false, minSteps: 1 }), false, false],
  ['prl', () => prl({ splitter: newlineSplitter }), false, true],
  ['prpo', () => prpo({ minGap: 1 }), false, true],
  ['process-grpo', () => processGrpo({ splitter: newlineSplitter }), false, false],
  // the outcome-RL baselines (docs/ALGORITHMS-baselines.md), and process advantages with their losses
  ['rloo', () => rloo(), false, true],
  ['reinforce++', () => reinforcePP(), false, true],
  ['reinforce++-baseline', () => reinforcePP({ baseline: true }), false, true],
  ['gspo', () => gspo(), false, true],
  ['gspo-token (2 epochs)', () => gspo({ variant: 'gspo-token', epochs: 2 }), false, true],
  ['cispo (2 epochs)', () => cispo({ epochs: 2 }), false, true],
  ['prpo + cispo', () => prpo({ minGap: 1, lossMode: 'cispo' }), false, true],
  ['prl + gspo-token', () => prl({ splitter: newlineSplitter, lossMode: 'gspo-token' }), false, true],
];

describe('every optimizer end to end on TinyLM', () => {
  test.each(CASES)('%s: finite loss and gradients, parameters move, the reward rises', async (_name, make, critic, outcome) => {
    const policy = TinyLM.create({ vocabSize: 8, hiddenSize: 32, numLayers: 1, numHeads: 2, intermediateSize: 64, maxPositions: 32, valueHead: critic }, { seed: 3 });
    const reference = policy.clone({ valueHead: false });
    const prm = new RuleBasedPRM(task);
    const trainer = new Trainer({
      policy, reference, algorithm: make(), task, tokenizer, prm,
      promptsPerStep: 6, groupSize: 8, maxNewTokens: 5, lr: 1e-2, microBatchRows: 16, trainProblems: 12, seed: 1,
    });
    const before = await probabilityOfA(policy);
    const weightsBefore = policy.weightBuffer.toArray() as Float32Array;
    const scores: number[] = [];
    for (let step = 0; step < 8; step++) {
      const m = await trainer.trainStep();
      expect(Number.isFinite(m.loss)).toBe(true);
      expect(Number.isFinite(m.gradNorm)).toBe(true);
      // a batch every rollout of which is correct has A = 0 everywhere: no gradient is right then
      if (!(outcome && m.scoreMean === 1)) expect(m.gradNorm).toBeGreaterThan(0);
      expect(Number.isFinite(m.kl)).toBe(true);
      scores.push(m.scoreMean);
    }
    const weightsAfter = policy.weightBuffer.toArray() as Float32Array;
    expect(weightsAfter.some((w, i) => w !== weightsBefore[i])).toBe(true);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(scores.slice(5))).toBeGreaterThan(mean(scores.slice(0, 3)));
    if (outcome) expect(await probabilityOfA(policy)).toBeGreaterThan(before + 0.1);
  });
});
