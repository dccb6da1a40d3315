// memory.test.ts: Trainer steps free what they make (each step runs in a scope, lib/scope.ts): the
// live tensor count is the same after every step, on the hidden-state path (TinyLM) and on the
// logits path (a model offering only forward/backward), with a critic, and when a step throws.
import { memory } from '../../lib';
import { TinyLM } from '../../lib/model/tinylm';
import type { PolicyModel } from '../../lib/model/policy';
import { Trainer } from '../../lib/optim/base';
import { grpo } from '../../lib/optim/grpo';
import { ppo } from '../../lib/optim/ppo';
import { ToyTask, ToyTokenizer } from './toy';

const tokenizer = new ToyTokenizer();
const task = new ToyTask();
const config = { vocabSize: 8, hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 24, maxPositions: 32 };

function logitsOnly(model: TinyLM): PolicyModel {
  return {
    get vocabSize() { return model.vocabSize; },
    device: model.device,
    forward: (tokens, options) => model.forward(tokens, options),
    backward: (dlogits, dvalues) => model.backward(dlogits, dvalues),
    values: model.config.valueHead ? (tokens, options) => model.values(tokens, options) : undefined,
    generate: (prompts, options) => model.generate(prompts, options),
    parameters: () => model.parameters(),
    zeroGrad: () => model.zeroGrad(),
  };
}

describe('Trainer memory', () => {
  test.each([
    ['grpo, hidden-state path', false, false],
    ['grpo, logits path', true, false],
    ['ppo with a critic (shuffled mini-batches)', false, true],
  ] as const)('%s: the live tensor count does not grow from step to step', async (_name, viaLogits, critic) => {
    const model = TinyLM.create({ ...config, valueHead: critic }, { seed: 1 });
    const reference = TinyLM.create(config, { seed: 2 });
    const trainer = new Trainer({
      policy: viaLogits ? logitsOnly(model) : model, reference, algorithm: critic ? ppo() : grpo({ klCoef: 0.05 }), task, tokenizer,
      promptsPerStep: 2, groupSize: 4, maxNewTokens: 5, lr: 1e-3, microBatchRows: 3, trainProblems: 6, seed: 4,
    });
    await trainer.trainStep();
    const after = memory();
    for (let i = 0; i < 3; i++) {
      await trainer.trainStep();
      const now = memory();
      expect(now.tensors).toBe(after.tensors);
      // A model's last pass keeps its input tokens' storage until its next pass (TinyLM's layout):
      // which micro-batch that was (a view of the batch's rows or a gathered copy) may differ by one
      // storage box per pass kind, never more.
      expect(Math.abs(now.storages - after.storages)).toBeLessThanOrEqual(2);
    }
    model.dispose();
    reference.dispose();
  });

  test('a step that throws frees its tensors too', async () => {
    const model = TinyLM.create(config, { seed: 1 });
    let calls = 0;
    const trainer = new Trainer({
      policy: model, algorithm: grpo({ klCoef: 0 }), dataset: task.problems('train', 6), tokenizer,
      reward: (completion: string) => {
        if (++calls > 8) throw new Error('reward service down');
        return completion.startsWith('a') ? 1 : 0;
      },
      promptsPerStep: 2, groupSize: 4, maxNewTokens: 5, microBatchRows: 3, seed: 4,
    });
    await trainer.trainStep();
    const after = memory();
    await expect(trainer.trainStep()).rejects.toThrow('reward service down');
    expect(memory()).toEqual(after);
    model.dispose();
  });
});
