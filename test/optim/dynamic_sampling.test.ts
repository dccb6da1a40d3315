// dynamic_sampling.test.ts: DAPO's dynamic sampling (ALGORITHMS.md §1.7; arXiv 2503.14476 §3.2).
// With a toy verifier whose groups are all-correct ('b'), all-wrong ('c') or mixed ('d'): the
// Trainer drops the zero-variance groups and refills the batch from further rounds until every
// group it trains on has varied rewards; the round cap stops it; rows of rounds with different
// prompt and response widths are re-laid out exactly; and with nothing to drop, or with the flag
// off, the step is the same bits as the plain pipeline's.
import { ArgumentError } from '../../lib/errors';
import { TinyLM } from '../../lib/model/tinylm';
import type { Algorithm } from '../../lib/optim/algorithm';
import { Trainer, type TrainerOptions } from '../../lib/optim/base';
import type { RolloutBatch } from '../../lib/optim/batch';
import { collectDynamic, dynamicSamplingSettings, groupRows, selectGroups } from '../../lib/optim/dynamic_sampling';
import { grpo } from '../../lib/optim/grpo';
import type { Sample } from '../../lib/text/dataset';
import type { RewardFunction } from '../../lib/text/reward';
import { ToyTokenizer } from './toy';

const tokenizer = new ToyTokenizer();
const G = 4;

/** 'b' groups are all correct, 'c' all wrong, 'd' alternate 0/1 row by row (always mixed). */
function toyReward(): RewardFunction {
  let calls = 0;
  return (_completion, sample) => {
    if (sample.prompt === 'b') return 1;
    if (sample.prompt === 'c') return 0;
    return calls++ % 2;
  };
}

function policy(): TinyLM {
  return TinyLM.create({ vocabSize: 8, hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32, maxPositions: 32 }, { seed: 5 });
}

/** The algorithm with every batch it is given recorded (what the update trains on). */
function recording(algorithm: Algorithm): { algorithm: Algorithm; batches: RolloutBatch[] } {
  const batches: RolloutBatch[] = [];
  return { batches, algorithm: { ...algorithm, advantages: (batch, context) => (batches.push(batch), algorithm.advantages(batch, context)) } };
}

function trainer(dataset: Sample[], algorithm: Algorithm, extra: Partial<TrainerOptions> = {}): Trainer {
  return new Trainer({
    policy: policy(), reference: policy(), algorithm, tokenizer, dataset, reward: toyReward(),
    promptsPerStep: 3, groupSize: G, maxNewTokens: 4, lr: 1e-2, microBatchRows: 8, seed: 2, ...extra,
  });
}

const varies = (batch: RolloutBatch, rows: number[]) => rows.some((r) => batch.rewards[r] !== batch.rewards[rows[0]]);
const prompts = (text: string) => [...text].map((prompt) => ({ prompt }));

describe('dynamic sampling in the Trainer', () => {
  test('zero-variance groups are dropped and the batch refilled: every group trained on has varied rewards', async () => {
    const { algorithm, batches } = recording(grpo({ variant: 'dapo' }));
    const t = trainer(prompts('bcdbcdbcdbcd'), algorithm);
    // Without a cap, round k of the run holds the prompts problemsFor(k) would give (3 a round).
    let round = 0, drawn = 0;
    for (let step = 0; step < 2; step++) {
      let rounds = 0, mixed = 0;
      while (mixed < 3) {
        mixed += t.problemsFor(round++).filter((p) => p.prompt === 'd').length;
        rounds++;
      }
      const m = await t.trainStep();
      const batch = batches[step];
      expect(batch.R).toBe(3 * G);
      expect(groupRows(batch)).toHaveLength(3);
      for (const rows of groupRows(batch)) {
        expect(rows).toHaveLength(G);
        expect(varies(batch, rows)).toBe(true);
      }
      expect(batch.problems.every((p) => p.prompt === 'd')).toBe(true);
      expect(m.zeroVarianceGroups).toBe(0);
      const stats = m.dynamicSampling!;
      expect(stats).toEqual({ rounds, prompts: 3 * rounds, droppedGroups: 3 * rounds - mixed, keptGroups: 3 });
      expect(Number.isFinite(m.loss) && m.gradNorm > 0).toBe(true);
      drawn += 3 * rounds;
    }
    expect(drawn).toBeGreaterThan(6); // the refill happened (4 'd' among 12 prompts)
    // The prompt stream was read as far as the rounds went, and a resumed trainer continues there.
    const state = t.state();
    expect(state).toEqual({ step: 2, rewardKlCoef: 0, promptsDrawn: drawn });
    const resumed = trainer(prompts('bcdbcdbcdbcd'), grpo({ variant: 'dapo' }));
    resumed.restore(state);
    expect(resumed.state()).toEqual(state);
  });

  test('the round cap stops the refill: fewer groups, or the first round as it was when none varies', async () => {
    // One round: only its 'd' groups are kept.
    const partial = recording(grpo({ variant: 'dapo', dynamicSampling: { maxRounds: 1 } }));
    const t = trainer(prompts('bcdbcdbcdbcd'), partial.algorithm);
    const first = t.problemsFor(0).map((p) => p.prompt);
    const expectedKept = first.filter((p) => p === 'd').length;
    expect(expectedKept).toBeGreaterThan(0);
    expect(expectedKept).toBeLessThan(3);
    const m = await t.trainStep();
    expect(m.dynamicSampling).toEqual({ rounds: 1, prompts: 3, droppedGroups: 3 - expectedKept, keptGroups: expectedKept });
    expect(partial.batches[0].R).toBe(expectedKept * G);
    expect(partial.batches[0].problems.every((p) => p.prompt === 'd')).toBe(true);

    // Nothing ever varies: maxRounds rounds, then the first round's batch unfiltered.
    const none = recording(grpo({ variant: 'dapo', dynamicSampling: { maxRounds: 4, oversample: 2 } }));
    const u = trainer(prompts('bcbcbc'), none.algorithm);
    const firstRound = u.problemsFor(0).concat(u.problemsFor(1)).map((p) => p.prompt);
    const n = await u.trainStep();
    expect(n.dynamicSampling).toEqual({ rounds: 4, prompts: 24, droppedGroups: 24, keptGroups: 0 });
    expect(none.batches[0].R).toBe(6 * G);
    expect(none.batches[0].problems.filter((_, r) => r % G === 0).map((p) => p.prompt)).toEqual(firstRound);
    expect(u.state().promptsDrawn).toBe(24);
  });

  test('flag off, or nothing to drop: the same bits as the plain pipeline', async () => {
    const run = async (algorithm: Algorithm, dataset: Sample[], extra: Partial<TrainerOptions> = {}) => {
      const rec = recording(algorithm);
      const t = trainer(dataset, rec.algorithm, extra);
      const metrics = [await t.trainStep(), await t.trainStep()];
      return { weights: (t.options.policy as TinyLM).weightBuffer.toArray() as Float32Array, metrics, batches: rec.batches, state: t.state() };
    };
    const mixed = prompts('dddddd');
    const plain = await run(grpo(), mixed);
    expect(plain.metrics[0].dynamicSampling).toBeUndefined();
    expect(plain.state).toEqual({ step: 2, rewardKlCoef: 0 });
    for (const off of [await run(grpo({ dynamicSampling: false }), mixed), await run(grpo({ variant: 'dapo', klCoef: 0.001, clipHigh: 0.2 }), mixed, { dynamicSampling: false })]) {
      expect(off.weights).toEqual(plain.weights);
      expect(off.metrics[1].loss).toBe(plain.metrics[1].loss);
      expect(off.metrics[0].dynamicSampling).toBeUndefined();
    }
    // On, but every group varies: one round, nothing dropped, the batch and the update unchanged.
    const on = await run(grpo({ dynamicSampling: true }), mixed);
    expect(on.metrics.map((m) => m.dynamicSampling)).toEqual([0, 1].map(() => ({ rounds: 1, prompts: 3, droppedGroups: 0, keptGroups: 3 })));
    expect(on.batches[1].sequences).toEqual(plain.batches[1].sequences);
    expect(on.batches[1].tokens).toEqual(plain.batches[1].tokens);
    expect(on.weights).toEqual(plain.weights);
    expect(on.state).toEqual({ step: 2, rewardKlCoef: 0, promptsDrawn: 6 });
  });
});

/** A hand-made batch: rows with the given prompt lengths, response lengths and rewards, pad id 7. */
function handBatch(P: number, T: number, rows: { prompt: number; length: number; reward: number; group: number }[]): RolloutBatch {
  const R = rows.length, pad = 7;
  const b: RolloutBatch = {
    R, P, T, problems: rows.map((_, r) => ({ id: String(r), prompt: 'x' })), groupIds: Int32Array.from(rows, (r) => r.group),
    sequences: new Int32Array(R * (P + T)).fill(pad), attentionStart: Int32Array.from(rows, (r) => P - r.prompt),
    tokens: new Int32Array(R * T).fill(pad), mask: new Float32Array(R * T), oldLogprobs: new Float32Array(R * T), entropy: new Float32Array(R * T),
    lengths: Int32Array.from(rows, (r) => r.length), texts: rows.map((_, r) => `t${r}`),
    verdicts: rows.map((r) => ({ correct: r.reward > 0, reward: r.reward, answer: null })), rewards: Float32Array.from(rows, (r) => r.reward),
  };
  rows.forEach((row, r) => {
    for (let i = 0; i < row.prompt; i++) b.sequences[r * (P + T) + P - row.prompt + i] = 100 * r + i;
    for (let t = 0; t < row.length; t++) {
      b.tokens[r * T + t] = b.sequences[r * (P + T) + P + t] = 100 * r + 50 + t;
      b.mask[r * T + t] = 1;
      b.oldLogprobs[r * T + t] = -(r + t / 10);
      b.entropy[r * T + t] = r + t / 100;
    }
  });
  return b;
}

describe('collectDynamic and selectGroups', () => {
  test('rows from rounds of different widths are re-laid out to the widest P and T, each row unchanged', () => {
    const a = handBatch(2, 3, [{ prompt: 2, length: 3, reward: 1, group: 0 }, { prompt: 1, length: 1, reward: 0, group: 0 }]);
    const b = handBatch(4, 2, [{ prompt: 3, length: 2, reward: 1, group: 9 }, { prompt: 4, length: 1, reward: 1, group: 9 }]);
    const out = selectGroups([{ batch: b, rows: [0, 1] }, { batch: a, rows: [1, 0] }], 7);
    expect([out.R, out.P, out.T]).toEqual([4, 4, 3]);
    expect(Array.from(out.groupIds)).toEqual([0, 0, 1, 1]);
    const pieces = [[b, 0], [b, 1], [a, 1], [a, 0]] as const;
    pieces.forEach(([src, r], row) => {
      const start = out.attentionStart[row];
      expect(start).toBe(src.attentionStart[r] + (4 - src.P));
      const promptOut = out.sequences.slice(row * 7 + start, row * 7 + 4), promptIn = src.sequences.slice(r * (src.P + src.T) + src.attentionStart[r], r * (src.P + src.T) + src.P);
      expect(promptOut).toEqual(promptIn);
      expect(out.sequences.slice(row * 7, row * 7 + start).every((x) => x === 7)).toBe(true);
      const L = src.lengths[r];
      expect(out.lengths[row]).toBe(L);
      expect(out.sequences.slice(row * 7 + 4, row * 7 + 4 + L)).toEqual(src.tokens.slice(r * src.T, r * src.T + L));
      expect(out.tokens.slice(row * 3, row * 3 + L)).toEqual(src.tokens.slice(r * src.T, r * src.T + L));
      expect(out.tokens.slice(row * 3 + L, row * 3 + 3).every((x) => x === 7)).toBe(true);
      expect(Array.from(out.mask.slice(row * 3, row * 3 + 3))).toEqual([0, 1, 2].map((t) => (t < L ? 1 : 0)));
      expect(out.oldLogprobs.slice(row * 3, row * 3 + L)).toEqual(src.oldLogprobs.slice(r * src.T, r * src.T + L));
      expect(out.entropy.slice(row * 3, row * 3 + L)).toEqual(src.entropy.slice(r * src.T, r * src.T + L));
      expect([out.rewards[row], out.texts[row], out.problems[row], out.verdicts[row]]).toEqual([src.rewards[r], src.texts[r], src.problems[r], src.verdicts[r]]);
    });
  });

  test('rounds until B varied groups, surplus groups of the last round left out; the metric may be correctness', async () => {
    // Round k holds groups [constant, varied, varied] (rewards 2 and 1 differ but both count as correct).
    const round = () => handBatch(1, 1, [0, 0, 1, 1, 2, 2].map((g, i) => ({ prompt: 1, length: 1, reward: g === 0 ? 1 : i % 2 === 0 ? 2 : 1, group: g })));
    const drawn: number[] = [];
    const draw = (n: number) => (drawn.push(n), Array.from({ length: n }, () => ({ id: '0', prompt: 'x' })));
    const byReward = await collectDynamic(3, dynamicSamplingSettings(true)!, 7, draw, async () => round());
    expect(byReward.stats).toEqual({ rounds: 2, prompts: 6, droppedGroups: 2, keptGroups: 3 });
    expect(drawn).toEqual([3, 3]);
    expect(byReward.batch.R).toBe(6);
    const byCorrect = await collectDynamic(3, dynamicSamplingSettings({ metric: 'correct', maxRounds: 3, oversample: 1.5 })!, 7, draw, async () => round());
    expect(byCorrect.stats).toEqual({ rounds: 3, prompts: 15, droppedGroups: 9, keptGroups: 0 });
    expect(drawn.slice(2)).toEqual([5, 5, 5]);
  });

  test('bad settings are typed errors naming the field', () => {
    expect(() => grpo({ variant: 'dapo', dynamicSampling: { maxRounds: 0 } })).toThrow(ArgumentError);
    expect(() => grpo({ variant: 'dapo', dynamicSampling: { maxRounds: 0 } })).toThrow(/options\.dynamicSampling\.maxRounds/);
    expect(() => grpo({ dynamicSampling: { oversample: 0.5 } })).toThrow(/oversample/);
    expect(() => grpo({ dynamicSampling: { metric: 'acc' as never } })).toThrow(/metric/);
    expect(() => grpo({ dynamicSampling: 3 as never })).toThrow(ArgumentError);
    expect(grpo({ variant: 'dapo' }).dynamicSampling).toEqual({ maxRounds: 10, oversample: 1, metric: 'reward' });
    expect(grpo().dynamicSampling).toBeUndefined();
  });
});
