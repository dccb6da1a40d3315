// learned_prm.ts: a learned process reward model (ALGORITHMS.md §2.1): the policy architecture
// (TinyLM) reading "prompt \n step_1 <sep> step_2 <sep> ...", and at each separator a 3-class
// prediction (negative / neutral / positive) made by the LM head restricted to three label tokens
// (the "reward token ids" trick). Trained by cross-entropy at separator positions only; a step's
// score is P(positive) (neutral counts as not positive, but is its own class in training).
import { Tensor } from '../tensor';
import { AdamW } from '../optim/adamw';
import { scheduledLr } from '../model/sft';
import type { TinyLM } from '../model/tinylm';
import type { Tokenizer } from '../model/tokenizer';
import { Random } from '../util/random';
import type { ProcessRewardModel } from './prm';

/** A labelled solution: steps and a label per step (+1 right, 0 neutral, -1 wrong). */
export interface LabelledSolution {
  prompt: string;
  steps: string[];
  labels: (1 | 0 | -1)[];
}

export interface LearnedPRMOptions {
  /** Token placed after every step. */
  separatorId: number;
  /** Token ids whose logits are the classes negative, neutral, positive. */
  labelIds: readonly [number, number, number];
  bosId: number;
  padId: number;
}

const classOf = (label: 1 | 0 | -1): number => label + 1; // -1 -> 0, 0 -> 1, +1 -> 2

export class LearnedPRM implements ProcessRewardModel {
  constructor(readonly model: TinyLM, readonly tokenizer: Tokenizer, readonly options: LearnedPRMOptions) {
    const V = model.vocabSize;
    for (const id of [options.separatorId, ...options.labelIds])
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`LearnedPRM: token id ${id} is outside the model's vocabulary of ${V}`);
  }

  /** Tokens of "prompt \n step <sep> step <sep> ..." and the position of each separator. */
  encode(prompt: string, steps: readonly string[]): { ids: number[]; separators: number[] } {
    const ids = [this.options.bosId, ...this.tokenizer.encode(`${prompt}\n`)];
    const separators: number[] = [];
    for (const step of steps) {
      ids.push(...this.tokenizer.encode(step.replace(/\n+$/, '')));
      separators.push(ids.length);
      ids.push(this.options.separatorId);
    }
    return { ids, separators };
  }

  /** Class log-probabilities [steps][3] for a batch of solutions (no gradient). */
  async #classLogits(items: readonly { prompt: string; steps: readonly string[] }[], train: boolean) {
    const encoded = items.map((it) => this.encode(it.prompt, it.steps));
    const B = encoded.length, T = Math.max(...encoded.map((e) => e.ids.length)), V = this.model.vocabSize;
    const ids = new Int32Array(B * T).fill(this.options.padId);
    encoded.forEach((e, b) => ids.set(e.ids, b * T));
    const logits = await this.model.forward(Tensor.from(ids, [B, T]), { train });
    const all = logits.toArray() as Float32Array;
    const rows = encoded.map((e, b) => e.separators.map((s) => this.options.labelIds.map((id) => all[(b * T + s) * V + id])));
    return { rows, encoded, B, T, V };
  }

  async scoreSteps(prompt: string, steps: readonly string[]): Promise<number[]> {
    if (steps.length === 0) return [];
    const { rows } = await this.#classLogits([{ prompt, steps }], false);
    return rows[0].map((z) => {
      const m = Math.max(...z), e = z.map((x) => Math.exp(x - m)), s = e[0] + e[1] + e[2];
      return e[2] / s;
    });
  }

  /**
   * Trains on labelled solutions: cross-entropy over the three label logits at every separator
   * (other positions carry no loss), AdamW with warmup and cosine decay.
   */
  async train(data: readonly LabelledSolution[], options: { epochs?: number; batchSize?: number; lr?: number; seed?: number; onStep?: (s: { step: number; steps: number; loss: number; accuracy: number }) => void } = {}): Promise<{ loss: number; accuracy: number }> {
    const epochs = options.epochs ?? 2, batchSize = options.batchSize ?? 32, lr = options.lr ?? 1e-3;
    const optimizer = new AdamW(this.model.parameters(), { lr, weightDecay: 0.01 });
    const random = new Random(options.seed ?? 0);
    const steps = Math.ceil(data.length / batchSize) * epochs;
    let step = 0, loss = NaN, accuracy = NaN;
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = random.shuffle(data.map((_, i) => i));
      for (let first = 0; first < order.length; first += batchSize) {
        const batch = order.slice(first, first + batchSize).map((i) => data[i]).filter((d) => d.steps.length > 0);
        if (batch.length === 0) continue;
        const { rows, encoded, B, T, V } = await this.#classLogits(batch, true);
        const dlogits = new Float32Array(B * T * V);
        let count = 0, total = 0, right = 0;
        rows.forEach((r) => (count += r.length));
        rows.forEach((r, b) => r.forEach((z, k) => {
          const m = Math.max(...z), e = z.map((x) => Math.exp(x - m)), s = e[0] + e[1] + e[2];
          const target = classOf(batch[b].labels[k]);
          total -= Math.log(e[target] / s);
          if (z.indexOf(Math.max(...z)) === target) right++;
          const position = (b * T + encoded[b].separators[k]) * V;
          this.options.labelIds.forEach((id, c) => (dlogits[position + id] = (e[c] / s - (c === target ? 1 : 0)) / count));
        }));
        this.model.zeroGrad();
        await this.model.backward(Tensor.from(dlogits, [B, T, V]));
        optimizer.step(scheduledLr(lr, step, steps, 0.05));
        step++;
        loss = total / count;
        accuracy = right / count;
        options.onStep?.({ step, steps, loss, accuracy });
      }
    }
    return { loss, accuracy };
  }
}

/**
 * Labelled solutions from a task's worked solutions, `flawRate` of them with one wrong step, each
 * step labelled by the task's step verifier; as in PRM800K, labels stop at the first wrong step.
 */
export function labelledSolutions<P extends { prompt: string }>(
  task: { solution(p: P, o: { flawed: boolean; random: Random }): string; verifySteps(p: P, steps: readonly string[]): boolean[] },
  problems: readonly P[], options: { flawRate?: number; seed?: number } = {},
): LabelledSolution[] {
  const random = new Random(options.seed ?? 0);
  return problems.map((problem) => {
    const steps = task.solution(problem, { flawed: random.next() < (options.flawRate ?? 0.5), random }).split('\n').filter((s) => s.trim() !== '');
    const verdicts = task.verifySteps(problem, steps);
    const firstWrong = verdicts.indexOf(false);
    const kept = firstWrong < 0 ? steps.length : firstWrong + 1;
    return { prompt: problem.prompt, steps: steps.slice(0, kept), labels: verdicts.slice(0, kept).map((ok) => (ok ? 1 : -1)) };
  });
}
