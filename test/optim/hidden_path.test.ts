// hidden_path.test.ts: the Trainer takes the hidden-state path when the policy offers it (TinyLM):
// no training forward through the logits, and the same gradients (and reference log-probs) as the
// logits path the same model takes when it is wrapped to offer only forward/backward.
import { TinyLM } from '../../lib/model/tinylm';
import type { PolicyModel } from '../../lib/model/policy';
import { Trainer } from '../../lib/optim/base';
import { grpo } from '../../lib/optim/grpo';
import { ppo } from '../../lib/optim/ppo';
import { ToyTask, ToyTokenizer } from './toy';

const tokenizer = new ToyTokenizer();
const task = new ToyTask();

/** The same model behind the logits-only part of the interface. */
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

describe('Trainer: hidden-state path', () => {
  test.each([['grpo with a reference', false], ['ppo with a critic', true]] as const)('%s: same gradients as the logits path, no logits forward', async (_name, critic) => {
    const config = { vocabSize: 8, hiddenSize: 32, numLayers: 1, numHeads: 2, intermediateSize: 64, maxPositions: 32, valueHead: critic };
    const run = async (hidden: boolean) => {
      const model = TinyLM.create(config, { seed: 3 });
      // A reference unlike the policy: the KL term gives every step a gradient.
      const reference = TinyLM.create({ ...config, valueHead: false }, { seed: 9 });
      let trainingForwards = 0;
      const forward = model.forward.bind(model);
      model.forward = async (tokens, options) => {
        if (options?.train) trainingForwards++;
        return forward(tokens, options);
      };
      const trainer = new Trainer({
        policy: hidden ? model : logitsOnly(model), reference, algorithm: critic ? ppo() : grpo({ klCoef: 0.05 }), task, tokenizer,
        promptsPerStep: 4, groupSize: 6, maxNewTokens: 5, lr: 1e-3, microBatchRows: 5, trainProblems: 6, seed: 1,
      });
      const stats = await trainer.trainStep();
      return { grads: model.gradBuffer.toArray() as Float32Array, trainingForwards, stats };
    };
    const fused = await run(true), plain = await run(false);
    expect(fused.trainingForwards).toBe(0);
    expect(plain.trainingForwards).toBeGreaterThan(0);
    let scale = 0;
    for (const g of plain.grads) scale = Math.max(scale, Math.abs(g));
    expect(scale).toBeGreaterThan(0);
    for (let i = 0; i < plain.grads.length; i++)
      if (!(Math.abs(fused.grads[i] - plain.grads[i]) <= 1e-4 * scale))
        throw new Error(`gradient ${i}: hidden path ${fused.grads[i]}, logits path ${plain.grads[i]} (largest |g| ${scale})`);
  });
});
