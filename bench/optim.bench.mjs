// optim.bench.mjs: one RL optimizer step on TinyLM d=256 (4 layers), 8 prompts x G=8, responses
// of 128 tokens, and the part of it that is not the model: the step time minus the time inside
// forward, backward, values and generate (measured by wrapping the model). Target: under 5%.
import { steprl } from './common.mjs';

const { TinyLM, Trainer, ArithmeticTask, ByteTokenizer, RuleBasedPRM, grpo, prpo } = steprl;

/** A PolicyModel that forwards to `model` and adds the time spent in it to `clock.model`. */
function timed(model, clock) {
  const wrap = (name) => async (...args) => {
    const start = performance.now();
    try {
      return await model[name](...args);
    } finally {
      clock.model += performance.now() - start;
    }
  };
  return {
    get vocabSize() { return model.vocabSize; }, get device() { return model.device; },
    forward: wrap('forward'), backward: wrap('backward'), generate: wrap('generate'), values: wrap('values'),
    parameters: () => model.parameters(), zeroGrad: () => model.zeroGrad(),
  };
}

export function register(suite, { quick }) {
  const tokenizer = new ByteTokenizer(), task = new ArithmeticTask();
  const config = { vocabSize: tokenizer.vocabSize, hiddenSize: 256, numLayers: 4, numHeads: 4, intermediateSize: 688, maxPositions: 512 };
  for (const [name, make] of [['grpo', () => grpo()], ['prpo', () => prpo()]]) {
    const clock = { model: 0, total: 0 };
    const policy = TinyLM.create(config, { seed: 1 }), reference = policy.clone();
    const trainer = new Trainer({
      policy: timed(policy, clock), reference: timed(reference, clock), algorithm: make(), task, tokenizer,
      prm: new RuleBasedPRM(task), promptsPerStep: quick ? 2 : 8, groupSize: 8, maxNewTokens: quick ? 16 : 128, lr: 1e-5,
    });
    suite.add({
      name: `optim/${name}-step/cpu/d256-L4-B${quick ? 2 : 8}xG8-T${quick ? 16 : 128}`,
      run: async () => {
        const start = performance.now();
        await trainer.trainStep();
        clock.total += performance.now() - start;
      },
    });
    suite.notes.push(() => `optim/${name}: non-model overhead ${(100 * (1 - clock.model / clock.total)).toFixed(1)}% of the step time ` +
      `(${((clock.total - clock.model) / 1e3).toFixed(2)} s of ${(clock.total / 1e3).toFixed(2)} s over all timed steps)`);
  }
}
