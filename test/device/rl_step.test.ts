// rl_step.test.ts: whole RL steps through the Trainer with the policy (and reference) on device
// cuda match the same steps on the cpu: GRPO (with a reference, the KL term in the loss), PPO (a
// critic: 4 epochs × 4 shuffled mini-batches, so micro-batches gather their rows on the device),
// PRPO (entropy segments scored by a PRM), and RLOO, REINFORCE++, PRL, PSPO, process-GRPO and DAPO
// with dynamic sampling. Same seed, same prompts: rollouts are sampled on each device from its own
// logits, so the sampled tokens must agree exactly and every float within the tolerance below. Runs only where a cuda device is tested (the simulator pass of `npm test`:
// STEPRL_BACKEND=cuda-sim STEPRL_TEST_DEVICES=cuda).
import { memory, type Device } from '../../lib';
import { countHostReads, Tensor, type HostRead } from '../../lib/tensor';
import { scope } from '../../lib/scope';
import { attachedTensor, tensorOf } from '../../lib/optim/batch';
import { collectRollouts } from '../../lib/optim/rollout';
import { promptFormatFor } from '../../lib/text/prompt';
import { combineRewards } from '../../lib/text/reward';
import { taskReward } from '../../lib/text/task';
import { TinyLM } from '../../lib/model/tinylm';
import { Trainer } from '../../lib/optim/base';
import type { Algorithm } from '../../lib/optim/algorithm';
import type { StepMetrics } from '../../lib/optim/metrics';
import { grpo } from '../../lib/optim/grpo';
import { ppo } from '../../lib/optim/ppo';
import { prpo } from '../../lib/optim/prpo';
import { prl } from '../../lib/optim/prl';
import { processGrpo } from '../../lib/optim/process_grpo';
import { pspo } from '../../lib/optim/pspo';
import { rloo } from '../../lib/optim/rloo';
import { reinforcePP } from '../../lib/optim/reinforce_pp';
import { RuleBasedPRM } from '../../lib/reward/prm';
import { describeOn } from '../util/devices';
import { ToyTask, ToyTokenizer } from '../optim/toy';

const tokenizer = new ToyTokenizer();
const task = new ToyTask();
/** Float32 kernels summing in another order on each device: relative to the largest magnitude of each quantity. */
const TOLERANCE = 2e-4;

interface StepRun {
  metrics: StepMetrics[];
  /** The gradient of each step's last optimizer step (AdamW's normalized update would magnify float noise on near-zero gradients). */
  grads: Float32Array[];
  liveAfterEachStep: number[];
}

async function run(device: Device, make: () => Algorithm, critic: boolean): Promise<StepRun> {
  const config = { vocabSize: 8, hiddenSize: 16, numLayers: 1, numHeads: 2, numKvHeads: 1, intermediateSize: 24, maxPositions: 32, valueHead: critic };
  const policy = TinyLM.create(config, { seed: 3, device });
  const reference = TinyLM.create({ ...config, valueHead: false }, { seed: 9, device });
  const trainer = new Trainer({
    policy, reference, algorithm: make(), task, tokenizer, prm: new RuleBasedPRM(task),
    promptsPerStep: 3, groupSize: 4, maxNewTokens: 6, lr: 1e-3, microBatchRows: 5, trainProblems: 6, seed: 2,
  });
  const metrics: StepMetrics[] = [], grads: Float32Array[] = [], liveAfterEachStep: number[] = [];
  for (let step = 0; step < 2; step++) {
    metrics.push(await trainer.trainStep());
    grads.push(policy.gradBuffer.toFloat32());
    liveAfterEachStep.push(memory().tensors);
  }
  policy.dispose();
  reference.dispose();
  return { metrics, grads, liveAfterEachStep };
}

function expectClose(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++)
    if (!(Math.abs(actual[i] - expected[i]) <= TOLERANCE * Math.max(scale, 1e-3)))
      throw new Error(`${name}[${i}]: cuda ${actual[i]}, cpu ${expected[i]} (largest |x| ${scale}, tolerance ${TOLERANCE} relative)`);
}

const FLOAT_METRICS = [
  'loss', 'pgLoss', 'klLoss', 'valueLoss', 'kl', 'approxKl', 'gradNorm', 'advantageMean', 'advantageStd', 'advantageAbsMean', 'entropy',
  'suffixLogRatioAbs', 'signalProcess', 'signalOutcome', 'signalCorrelation',
] as const;

describeOn('cuda', 'RL steps on cuda match the cpu steps', () => {
  test.each([
    ['grpo', () => grpo({ klCoef: 0.05 }), false],
    ['ppo', () => ppo(), true],
    ['prpo', () => prpo({ minGap: 1 }), false],
    // The other estimators' device paths (broadcast rows, reinforce++, PRL, PSPO with and without a critic).
    ['rloo', () => rloo({ klCoef: 0.05 }), false],
    ['reinforce++', () => reinforcePP({ baseline: true }), false],
    ['prl', () => prl({ eta: 2 }), false],
    ['pspo', () => pspo(), true],
    ['pspo without a critic', () => pspo({ critic: false }), false],
    ['process-grpo', () => processGrpo(), false],
    // Dynamic sampling re-lays the kept groups' rows out on the host (dynamic_sampling.ts selectGroups).
    ['dapo (dynamic sampling)', () => grpo({ variant: 'dapo' }), false],
  ] as const)('%s', async (name, make, critic) => {
    const cpu = await run('cpu', make, critic);
    const cuda = await run('cuda', make, critic);
    for (let step = 0; step < cpu.metrics.length; step++) {
      // The process-supervised methods' signal sizes (signal.ts) are reduced on the device too.
      const flat = (m: StepMetrics) => ({ ...m, signalProcess: m.signal?.process, signalOutcome: m.signal?.outcome, signalCorrelation: m.signal?.detail?.outcomeCorrelation }) as unknown as Record<string, number>;
      const c = flat(cpu.metrics[step]), g = flat(cuda.metrics[step]);
      expect(g.signalProcess === undefined).toBe(c.signalProcess === undefined);
      // The sampled rollouts are the same: same rewards, lengths and accuracy.
      expect(g.rewardMean).toBe(c.rewardMean);
      expect(g.accuracy).toBe(c.accuracy);
      expect(g.responseLength).toBe(c.responseLength);
      const present = FLOAT_METRICS.filter((k) => typeof c[k] === 'number');
      expect(present.length).toBeGreaterThan(5);
      expectClose(`${name} step ${step} metrics (${present.join(', ')})`, present.map((k) => g[k]), present.map((k) => c[k]));
    }
    for (let step = 0; step < cpu.grads.length; step++) {
      expect(cpu.grads[step].some((x) => x !== 0)).toBe(true);
      expectClose(`${name} step ${step} gradients`, cuda.grads[step], cpu.grads[step]);
    }
    // The steps free what they made: the live tensor count does not grow from step to step.
    expect(cuda.liveAfterEachStep[1]).toBe(cuda.liveAfterEachStep[0]);
  });
});

// The host-read audit (issue 17): what one GRPO, PPO and PRPO step on cuda reads back from the
// device, counted by countHostReads (host_reads.ts). Allowed: the sampled ids of each decode step
// (R·4 bytes per step, R·T·4 in all), per-row data (O(R): the [R] outcome advantages), the
// scalars of the metrics (a few floats) and, for PRPO, the entropy segment ids [R, T] (int32): the
// host cuts the responses into the steps whose texts the PRM scores. Anything else per token (the
// mask, log-probs, entropies, values, advantages) would be R·T·4 bytes more and fail the bound.
describeOn('cuda', 'an RL step on cuda reads only ids and scalars', () => {
  test.each([
    ['grpo', () => grpo({ klCoef: 0.05 }), false],
    ['ppo', () => ppo(), true],
    ['prpo', () => prpo({ minGap: 1 }), false],
  ] as const)('%s', async (name, make, critic) => {
    const config = { vocabSize: 8, hiddenSize: 16, numLayers: 1, numHeads: 2, numKvHeads: 1, intermediateSize: 24, maxPositions: 32, valueHead: critic };
    const policy = TinyLM.create(config, { seed: 3, device: 'cuda' });
    const reference = TinyLM.create({ ...config, valueHead: false }, { seed: 9, device: 'cuda' });
    const maxNewTokens = 6, R = 3 * 4;
    const trainer = new Trainer({
      policy, reference, algorithm: make(), task, tokenizer, prm: new RuleBasedPRM(task),
      promptsPerStep: 3, groupSize: 4, maxNewTokens, lr: 1e-3, microBatchRows: 5, trainProblems: 6, seed: 2,
    });
    try {
      for (let step = 0; step < 2; step++) {
        const { reads } = await countHostReads(() => trainer.trainStep());
        const T = maxNewTokens;  // the response length T of the batch is at most this
        const numel = (r: HostRead) => r.shape.reduce((a, b) => a * b, 1);
        const listed = reads.map((r) => `${r.site} [${r.shape.join(', ')}] ${r.bytes} B`);
        const ids = reads.filter((r) => /generate\.[tj]s/.test(r.site) && r.shape.length === 1 && r.shape[0] === R);
        const segments = reads.filter((r) => /rollout\.[tj]s/.test(r.site) && r.shape.length === 2 && r.shape[0] === R);
        const small = reads.filter((r) => !ids.includes(r) && !segments.includes(r));
        // Every read is one of the three kinds; the per-token ones are the ids and PRPO's segments.
        for (const r of small) if (numel(r) > R) throw new Error(`${name} step ${step} read a per-token array: ${listed.join('; ')}`);
        expect(ids.length).toBeGreaterThan(0);
        expect(ids.length).toBeLessThanOrEqual(maxNewTokens);
        expect(segments.length).toBe(name === 'prpo' ? 1 : 0);
        const bytes = reads.reduce((n, r) => n + r.bytes, 0);
        const bound = R * T * 4 * (name === 'prpo' ? 2 : 1) + small.length * R * 4;
        expect(bytes).toBeLessThanOrEqual(bound);
        expect(small.reduce((n, r) => n + r.bytes, 0)).toBeLessThanOrEqual(4 * R + 64);
        if (process.env.STEPRL_LIST_READS) console.log(`${name} step ${step}: ${bytes} B in ${reads.length} reads (R ${R}, T ≤ ${maxNewTokens})\n  ${listed.join('\n  ')}`);
      }
    } finally {
      policy.dispose();
      reference.dispose();
    }
  });
});

describeOn('cuda', 'countHostReads and the lazy host fields of a device batch', () => {
  test('counts device reads (bytes, shape, site), not cpu ones; refuses nesting', async () => {
    const onDevice = Tensor.from(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3], { device: 'cuda' }), onCpu = Tensor.from(Float32Array.of(1, 2), [2]);
    const { result, reads } = await countHostReads(() => {
      onCpu.toArray();
      onDevice.to('cpu').dispose();
      return onDevice.toArray();
    });
    expect(Array.from(result)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(reads.map((r) => [r.bytes, r.shape])).toEqual([[24, [2, 3]], [24, [2, 3]]]);
    expect(reads[0].site).toMatch(/rl_step\.test\.ts:\d+/);
    await expect(countHostReads(() => countHostReads(() => 0))).rejects.toThrow('already counting');
    onDevice.dispose();
    onCpu.dispose();
  });

  test('completions from a RolloutSource: the policy recomputes their log-probs and entropies on the device, as on the cpu', async () => {
    const config = { vocabSize: 8, hiddenSize: 16, numLayers: 1, numHeads: 2, numKvHeads: 1, intermediateSize: 24, maxPositions: 32, valueHead: false };
    const source = { generate: async (requests: readonly unknown[]) => requests.map((_, i) => Int32Array.from([0, 1, 4, 0, 6].slice(0, 1 + (i % 5)))) };
    const collect = async (device: Device) => {
      const policy = TinyLM.create(config, { seed: 3, device });
      const env = { promptFormat: promptFormatFor(tokenizer, 'plain'), verify: combineRewards(taskReward(task)), source };
      const problems = task.problems('train', 2);
      const result = await scope(async () => {
        const { result: batch, reads } = await countHostReads(() => collectRollouts(policy, tokenizer, env, problems as never, {
          groupSize: 3, rowsPerPass: 4, sampling: { maxNewTokens: 5, temperature: 0.8, stopTokens: [tokenizer.eosId], seed: 4 },
        }));
        return { reads: reads.length, logprobs: Float32Array.from(batch.oldLogprobs), entropy: Float32Array.from(batch.entropy) };
      });
      policy.dispose();
      return result;
    };
    const cpu = await collect('cpu'), cuda = await collect('cuda');
    expect(cuda.reads).toBe(0);  // the tokens come from the host; nothing was read back
    expectClose('recomputed log-probs', cuda.logprobs, cpu.logprobs);
    expectClose('recomputed entropies', cuda.entropy, cpu.entropy);
    expect(cpu.logprobs.some((x) => x !== 0)).toBe(true);
  });

  test('a cuda rollout batch keeps its per-token data on the device; its fields read it once, on demand', async () => {
    const config = { vocabSize: 8, hiddenSize: 16, numLayers: 1, numHeads: 2, numKvHeads: 1, intermediateSize: 24, maxPositions: 32, valueHead: false };
    const policy = TinyLM.create(config, { seed: 3, device: 'cuda' });
    await scope(async () => {
      const env = { promptFormat: promptFormatFor(tokenizer, 'plain'), verify: combineRewards(taskReward(task)) };
      const problems = task.problems('train', 2).map((p) => ({ ...p, prompt: p.prompt }));
      const { result: batch, reads } = await countHostReads(() => collectRollouts(policy, tokenizer, env, problems as never, {
        groupSize: 3, sampling: { maxNewTokens: 5, temperature: 1, stopTokens: [tokenizer.eosId], seed: 4 },
      }));
      const { R, T } = batch;
      // Only the sampled ids came back (one [R] read per decode step).
      expect(reads.every((r) => r.shape.length === 1 && r.shape[0] === R)).toBe(true);
      const attached = attachedTensor(batch, 'oldLogprobs', 'cuda')!;
      expect(attached.shape).toEqual([R, T]);
      const lazy = await countHostReads(() => [batch.mask, batch.oldLogprobs, batch.oldLogprobs]);
      expect(lazy.reads.length).toBe(2);  // mask once, log-probs once (cached)
      const [mask, logprobs] = lazy.result;
      expect(Array.from(logprobs)).toEqual(Array.from(attached.toArray()));
      for (let r = 0; r < R; r++)
        for (let t = 0; t < T; t++) {
          expect(mask[r * T + t]).toBe(t < batch.lengths[r] ? 1 : 0);
          if (t >= batch.lengths[r]) expect(logprobs[r * T + t]).toBe(0);
        }
      // Assigning a field replaces the device tensor by the host array.
      batch.oldLogprobs = new Float32Array(R * T).fill(-1);
      expect(attachedTensor(batch, 'oldLogprobs', 'cuda')).toBeUndefined();
      expect(tensorOf(batch, 'oldLogprobs', 'cuda', [R, T])!.toArray()[0]).toBe(-1);
    });
    policy.dispose();
  });
});
