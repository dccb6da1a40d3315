// tinylm.test.ts: TinyLM against an independent float64 PyTorch implementation of the Hugging Face
// decoder (test/torch/tinylm.py), through Hugging Face-layout checkpoints: a Llama with grouped-query
// attention and an untied head, a Qwen2 with q/k/v bias and tied embeddings, Qwen3s (per-head q/k
// RMSNorm, head_dim unrelated to the width) and models with rope_scaling (llama3, linear, dynamic). Logits and the
// gradient of every parameter must agree within 1e-4 (relative to each tensor's largest element),
// with left-padded rows. Also: save -> load is bit-exact, and generation is deterministic with the
// log-probs of a teacher-forced forward. Everything runs on every device (test/util/devices.ts): on
// cuda (the simulator in npm test) the same checks hold, the model's tensors stay on the device,
// and generation draws the cpu's tokens.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Tensor, cudaInfo, ops, type Device } from '../../lib';
import { TinyLM } from '../../lib/model/tinylm';
import type { TinyLMConfigInput } from '../../lib/model/config';
import { describeOn, devices } from '../util/devices';
import { Rng } from '../util/random';
import { describeTorch, runTorch } from '../torch/harness';

const CONFIGS: Record<string, TinyLMConfigInput> = {
  'llama GQA, untied head': {
    architecture: 'llama', vocabSize: 61, hiddenSize: 48, intermediateSize: 80, numLayers: 2, numHeads: 6, numKvHeads: 2,
    tieEmbeddings: false, ropeTheta: 10000, rmsNormEps: 1e-5,
  },
  'qwen2 q/k/v bias, tied embeddings': {
    architecture: 'qwen2', vocabSize: 50, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 4,
    tieEmbeddings: true, ropeTheta: 1e6, rmsNormEps: 1e-6,
  },
  'qwen3 q/k norm, GQA, head_dim != hidden/heads': {
    architecture: 'qwen3', vocabSize: 53, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16,
    tieEmbeddings: true, ropeTheta: 1e6, rmsNormEps: 1e-6,
  },
  // theta 5e5, D 16, original context 64: wavelengths 6.3 (kept), 32 (smoothed), 167 and up (interpolated).
  'llama rope_scaling llama3': {
    architecture: 'llama', vocabSize: 40, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 16,
    tieEmbeddings: false, ropeTheta: 5e5, rmsNormEps: 1e-5, maxPositions: 512,
    ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64 },
  },
  'llama rope_scaling linear': {
    architecture: 'llama', vocabSize: 40, hiddenSize: 32, intermediateSize: 48, numLayers: 1, numHeads: 4, numKvHeads: 4,
    tieEmbeddings: true, ropeTheta: 1e4, rmsNormEps: 1e-5, ropeScaling: { type: 'linear', factor: 4 },
  },
  // T = 9 rows against max_position_embeddings 8: the NTK-scaled base applies.
  'qwen3 rope_scaling dynamic, past max_position_embeddings': {
    architecture: 'qwen3', vocabSize: 40, hiddenSize: 32, intermediateSize: 48, numLayers: 1, numHeads: 4, numKvHeads: 2,
    tieEmbeddings: false, ropeTheta: 1e4, rmsNormEps: 1e-6, maxPositions: 8, ropeScaling: { type: 'dynamic', factor: 4 },
  },
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-tinylm-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A random model whose biases and norms are not at their init values (so their gradients matter). */
function randomModel(config: TinyLMConfigInput, seed: number, device: Device = 'cpu'): TinyLM {
  const model = TinyLM.create(config, { seed, device });
  const rng = new Rng(seed + 1);
  for (const p of model.parameters()) {
    if (p.name.endsWith('norm.weight'))
      p.value.copyFrom(Tensor.from(Float32Array.from({ length: p.value.numel }, () => 1 + 0.2 * rng.normal()), p.value.shape, { device }));
    if (p.name.endsWith('.bias')) p.value.copyFrom(Tensor.from(rng.floats(p.value.numel, 0.1), p.value.shape, { device }));
  }
  return model;
}

function expectTensorClose(name: string, actual: Float32Array, expected: Float64Array, rtol = 1e-4): void {
  let scale = 0;
  for (const e of expected) scale = Math.max(scale, Math.abs(e));
  let worst = 0, at = -1;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / (scale || 1);
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  if (!(worst <= rtol)) throw new Error(`${name}: element ${at} is ${actual[at]}, float64 says ${expected[at]} (error ${worst.toExponential(2)} of the largest |value| ${scale})`);
}

for (const device of devices()) {
  describeTorch(`TinyLM forward and backward on ${device}`, () => {
    test.each(Object.keys(CONFIGS))('%s: logits and every gradient match, left-padded rows', async (label) => {
      const config = CONFIGS[label];
      const dir = path.join(tmp, `${device}-${label.replace(/\W+/g, '-')}`);
      randomModel(config, 11).save(dir);
      const model = TinyLM.load(dir, { device });
      expect(model.weightBuffer.device).toBe(device);
      const rng = new Rng(5);
      const B = 3, T = 9, V = config.vocabSize;
      const tokens = rng.ints(B * T, 0, V);
      const start = Int32Array.from([0, 3, 1]);
      const dlogits = rng.floats(B * T * V, 0.5);
      model.zeroGrad();
      const logits = await model.forward(Tensor.from(tokens, [B, T], { device }), { train: true, attentionStart: start });
      expect(logits.device).toBe(device);
      const logitsCopy = logits.toArray() as Float32Array;
      await model.backward(Tensor.from(dlogits, [B, T, V], { device }));
      const torch = runTorch('tinylm', { tokens, start, dlogits }, { checkpoint: dir, B, T });
      expectTensorClose('logits', logitsCopy, torch.logits);
      for (const p of model.parameters()) {
        const expected = torch[`grad:${p.name}`];
        expect(expected).toBeDefined();
        expectTensorClose(`grad ${p.name}`, p.grad!.toArray() as Float32Array, expected);
      }
      model.dispose();
    });
  });

  describe(`TinyLM checkpoints and generation on ${device}`, () => {
    test('save -> load round-trips bit-exactly (float32) and bf16 checkpoints load', () => {
      const model = randomModel(CONFIGS['llama GQA, untied head'], 3, device);
      const dir = path.join(tmp, `roundtrip-${device}`);
      model.save(dir);
      const loaded = TinyLM.load(dir, { device });
      expect(Buffer.compare(Buffer.from(loaded.weightBuffer.toArray().buffer), Buffer.from(model.weightBuffer.toArray().buffer))).toBe(0);
      model.save(dir, { dtype: 'bfloat16' });
      const half = TinyLM.load(dir, { device });
      const a = half.weightBuffer.toArray() as Float32Array, b = model.weightBuffer.toArray() as Float32Array;
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(Math.abs(b[i]) * 2 ** -8 + 1e-30);
      half.save(dir, { dtype: 'bfloat16' });
      expect(Buffer.compare(Buffer.from(TinyLM.load(dir, { device }).weightBuffer.toArray().buffer), Buffer.from(a.buffer))).toBe(0);
      const copy = model.clone();
      expect(copy.device).toBe(device);
      expect(Buffer.compare(Buffer.from(copy.weightBuffer.toArray().buffer), Buffer.from(b.buffer))).toBe(0);
    });

    // Qwen3's q/k norms and scaled RoPE run in generation's own KV-cache path too.
    test.each(['llama GQA, untied head', 'qwen3 q/k norm, GQA, head_dim != hidden/heads', 'llama rope_scaling llama3'])(
      '%s: generation is deterministic for a seed and its log-probs equal a teacher-forced forward', async (label) => {
      const config = CONFIGS[label];
      const model = randomModel(config, 21, device);
      const prompts = [Int32Array.from([1, 2, 3, 4, 5]), Int32Array.from([7, 8]), Int32Array.from([9, 10, 11])];
      const options = { maxNewTokens: 12, temperature: 0.9, seed: 42, stopTokens: [0] };
      const first = await model.generate(prompts, options);
      const again = await model.generate(prompts, options);
      expect(again.tokens.toArray()).toEqual(first.tokens.toArray());
      expect(again.logprobs.toArray()).toEqual(first.logprobs.toArray());
      const other = await model.generate(prompts, { ...options, seed: 43 });
      expect(other.tokens.toArray()).not.toEqual(first.tokens.toArray());

      // Teacher forcing: [left-padded prompt | response], logits at P-1+t predict response token t.
      const B = prompts.length, P = 5, Tr = first.tokens.shape[1], V = config.vocabSize;
      const sequence = new Int32Array(B * (P + Tr));
      const start = new Int32Array(B);
      const response = first.tokens.toArray() as Int32Array;
      for (let b = 0; b < B; b++) {
        start[b] = P - prompts[b].length;
        sequence.set(prompts[b], b * (P + Tr) + start[b]);
        sequence.set(response.subarray(b * Tr, (b + 1) * Tr), b * (P + Tr) + P);
      }
      const logits = (await model.forward(Tensor.from(sequence, [B, P + Tr]), { attentionStart: start })).toArray() as Float32Array;
      const picked = new Float32Array(B * Tr * V);
      for (let b = 0; b < B; b++)
        for (let t = 0; t < Tr; t++) picked.set(logits.subarray(((b * (P + Tr)) + P - 1 + t) * V, ((b * (P + Tr)) + P + t) * V), (b * Tr + t) * V);
      const teacher = ops.tokenLogprobs(Tensor.from(picked, [B * Tr, V]), Tensor.from(response, [B * Tr]), { temperature: 0.9 });
      const lp = teacher.logprobs.toArray(), generated = first.logprobs.toArray(), mask = first.mask.toArray();
      let compared = 0;
      for (let i = 0; i < lp.length; i++) {
        if (mask[i] === 0) continue;
        expect(Math.abs(lp[i] - generated[i])).toBeLessThanOrEqual(1e-5);
        compared++;
      }
      expect(compared).toBeGreaterThan(B);
    });
  });
}

describeOn('cuda', 'TinyLM on cuda', () => {
  test.each(['qwen2 q/k/v bias, tied embeddings', 'qwen3 q/k norm, GQA, head_dim != hidden/heads', 'llama rope_scaling llama3'])(
    '%s: generation draws the cpu\'s tokens (greedy and sampled, top-k/top-p) and frees its per-step tensors', async (label) => {
    const config = CONFIGS[label];
    const cpu = randomModel(config, 8), cuda = cpu.clone({ device: 'cuda' });
    const prompts = [Int32Array.from([3, 1, 4, 1, 5]), Int32Array.from([9, 2]), Int32Array.from([6])];
    const memory = () => cudaInfo()!.allocator.liveBytes;
    for (const options of [{ maxNewTokens: 8, temperature: 0, seed: 0 }, { maxNewTokens: 10, temperature: 1.1, topK: 12, topP: 0.9, seed: 5 }]) {
      const a = await cpu.generate(prompts, options), b = await cuda.generate(prompts, options);
      expect(b.tokens.toArray()).toEqual(a.tokens.toArray());
      const la = a.logprobs.toArray(), lb = b.logprobs.toArray();
      for (let i = 0; i < la.length; i++) expect(Math.abs(la[i] - lb[i])).toBeLessThanOrEqual(1e-5);
    }
    const before = memory();
    const out = await cuda.generate(prompts, { maxNewTokens: 10, temperature: 1, seed: 1 });
    // The log-probs and entropies it returns live on the device (the RL step keeps them there).
    expect([out.logprobs.device, out.entropy.device]).toEqual(['cuda', 'cuda']);
    for (const t of [out.tokens, out.mask, out.logprobs, out.entropy]) t.dispose();
    // Caches, workspaces and every per-step tensor went back (garbage collection of earlier tests'
    // tensors can only lower the count meanwhile).
    expect(memory()).toBeLessThanOrEqual(before);
  });

  test('forward takes host tokens and backward host gradients; zeroGrad and the Tensor methods it relies on work on device storage', async () => {
    const config = CONFIGS['llama GQA, untied head'];
    const model = randomModel(config, 4, 'cuda');
    const B = 2, T = 5, V = config.vocabSize, rng = new Rng(2);
    const tokens = Tensor.from(rng.ints(B * T, 0, V), [B, T]);
    await model.forward(tokens, { train: true });
    await model.backward(Tensor.from(rng.floats(B * T * V), [B, T, V]));
    expect((model.gradBuffer.toArray() as Float32Array).some((x) => x !== 0)).toBe(true);
    model.zeroGrad();
    expect((model.gradBuffer.toArray() as Float32Array).every((x) => x === 0)).toBe(true);
    // A view of a view, fill, copyFrom, reshape, toFloat32 on cuda.
    const arena = Tensor.from(Float32Array.from({ length: 24 }, (_, i) => i), [24], { device: 'cuda' });
    const inner = arena.view(4, [4, 4]).view(3, [2, 5]);
    expect(Array.from(inner.toFloat32())).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    inner.reshape([10]).fill(-1);
    arena.view(0, [2]).copyFrom(inner.view(8, [2]));
    expect(Array.from(arena.toArray()).slice(0, 8)).toEqual([-1, -1, 2, 3, 4, 5, 6, -1]);
    model.dispose();
  });
});
