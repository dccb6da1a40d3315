// custom_model.test.ts: a user's own model and PRM plug into the optimizers without touching
// steprl: BigramModel is a PolicyModel written here from scratch (logits of the next token are a
// row of one [V, V] table; its own forward, backward and sampling loop), ToyPRM a ProcessRewardModel.
import { Tensor, ops } from '../../lib';
import type { Parameter, PolicyModel, Rollouts, SamplingOptions } from '../../lib/model/policy';
import { Trainer } from '../../lib/optim/base';
import type { Algorithm } from '../../lib/optim/algorithm';
import { grpo } from '../../lib/optim/grpo';
import { ppo } from '../../lib/optim/ppo';
import { pspo } from '../../lib/optim/pspo';
import { prl } from '../../lib/optim/prl';
import { prpo } from '../../lib/optim/prpo';
import { processGrpo } from '../../lib/optim/process_grpo';
import type { ProcessRewardModel } from '../../lib/reward/prm';
import { newlineSplitter } from '../../lib/reward/splitters';
import { ToyTask, ToyTokenizer } from './toy';

class BigramModel implements PolicyModel {
  readonly device = 'cpu' as const;
  readonly table: Tensor;   // [V, V]: logits of the next token given the current one
  readonly grad: Tensor;
  #lastTokens: Int32Array | null = null;
  constructor(readonly vocabSize: number) {
    this.table = Tensor.zeros([vocabSize, vocabSize]);
    this.grad = Tensor.zeros([vocabSize, vocabSize]);
  }
  async forward(tokens: Tensor): Promise<Tensor> {
    const ids = tokens.toArray() as Int32Array, V = this.vocabSize, W = this.table.toArray();
    const out = new Float32Array(ids.length * V);
    ids.forEach((id, i) => out.set(W.subarray(id * V, (id + 1) * V), i * V));
    this.#lastTokens = ids;
    return Tensor.from(out, [...tokens.shape, V]);
  }
  async backward(dlogits: Tensor): Promise<void> {
    const d = dlogits.toArray() as Float32Array, V = this.vocabSize;
    const g = this.grad.toArray() as Float32Array;
    this.#lastTokens!.forEach((id, i) => {
      for (let v = 0; v < V; v++) g[id * V + v] += d[i * V + v];
    });
    this.grad.copyFrom(Tensor.from(g, [V, V]));
  }
  async generate(prompts: readonly Int32Array[], options: SamplingOptions): Promise<Rollouts> {
    const B = prompts.length, T = options.maxNewTokens, V = this.vocabSize, W = this.table.toArray() as Float32Array;
    const tokens = new Int32Array(B * T).fill(7), mask = new Float32Array(B * T), logprobs = new Float32Array(B * T), entropy = new Float32Array(B * T);
    const lengths = new Int32Array(B), finished = new Array<boolean>(B).fill(false);
    const current = Int32Array.from(prompts, (p) => p[p.length - 1]);
    for (let t = 0; t < T; t++) {
      const logits = new Float32Array(B * V);
      current.forEach((id, b) => logits.set(W.subarray(id * V, (id + 1) * V), b * V));
      const z = Tensor.from(logits, [B, V]);
      const next = ops.sample(z, { temperature: options.temperature ?? 1, seed: options.seed ?? 0, counter: t });
      const scored = ops.tokenLogprobs(z, next, { temperature: options.temperature || 1, entropy: true });
      const ids = next.toArray() as Int32Array, lp = scored.logprobs.toArray(), ent = scored.entropy!.toArray();
      for (let b = 0; b < B; b++) {
        if (finished[b]) continue;
        tokens[b * T + t] = ids[b];
        mask[b * T + t] = 1;
        logprobs[b * T + t] = lp[b];
        entropy[b * T + t] = ent[b];
        lengths[b] = t + 1;
        current[b] = ids[b];
        if (options.stopTokens?.includes(ids[b])) finished[b] = true;
      }
    }
    return {
      tokens: Tensor.from(tokens, [B, T]), mask: Tensor.from(mask, [B, T]), logprobs: Tensor.from(logprobs, [B, T]),
      entropy: Tensor.from(entropy, [B, T]), lengths, finished,
    };
  }
  parameters(): Parameter[] {
    return [{ name: 'bigram.table', value: this.table, grad: this.grad }];
  }
  /** A frozen copy for the reference. */
  copy(): BigramModel {
    const m = new BigramModel(this.vocabSize);
    m.table.copyFrom(this.table);
    return m;
  }
}

/** Steps made only of 'a' are right. */
class ToyPRM implements ProcessRewardModel {
  calls = 0;
  scoreSteps(_prompt: string, steps: readonly string[]): number[] {
    this.calls++;
    return steps.map((s) => (/^a+\n?$/.test(s) ? 0.9 : 0.1));
  }
}

const tokenizer = new ToyTokenizer();
const task = new ToyTask();

const PLUGGABLE: [string, () => Algorithm][] = [
  ['grpo', () => grpo()],
  ['pspo (critic-free)', () => pspo({ critic: false, splitter: newlineSplitter, minSteps: 1 })],
  ['prl', () => prl({ splitter: newlineSplitter })],
  ['prpo', () => prpo({ minGap: 1 })],
  ['process-grpo', () => processGrpo({ splitter: newlineSplitter })],
];

describe('a model and a PRM of the user\'s own', () => {
  test.each(PLUGGABLE)('%s trains a non-TinyLM PolicyModel with a custom PRM', async (_name, make) => {
    const policy = new BigramModel(tokenizer.vocabSize);
    const prm = new ToyPRM();
    const algorithm = make();
    const trainer = new Trainer({ policy, reference: policy.copy(), algorithm, task, tokenizer, prm, promptsPerStep: 6, groupSize: 8, maxNewTokens: 4, lr: 0.05, trainProblems: 12, seed: 2 });
    const scores: number[] = [];
    for (let step = 0; step < 8; step++) scores.push((await trainer.trainStep()).scoreMean);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(scores.slice(5))).toBeGreaterThan(mean(scores.slice(0, 3)));
    if (algorithm.needs.prm) expect(prm.calls).toBeGreaterThan(0);
    // The table moved toward 'a' after a newline-terminated prompt (token 4 -> token 0).
    const W = policy.table.toArray();
    expect(W[4 * tokenizer.vocabSize + 0]).toBeGreaterThan(0);
  });

  test('an algorithm that needs a critic says so for a model without values()', () => {
    const policy = new BigramModel(tokenizer.vocabSize);
    expect(() => new Trainer({ policy, reference: policy.copy(), algorithm: ppo(), task, tokenizer })).toThrow('ppo needs a policy with a value head');
  });
});
