// mixed_precision.test.ts: TinyLM with precision 'bf16-mixed' on cuda (bf16 GEMM operands, fp32
// master weights, gradients and AdamW moments) against the same model in fp32 on the cpu.
// (a) one training step on the hidden-state path (forward, linearTokenLogprobs with the bf16 lm_head,
//     the clipped policy loss, backward, AdamW): loss, log-probs, gradients, gradient norm and the
//     updated weights within the bf16 tolerances derived below; the bf16 weight copy is refreshed
//     after the step. The same for the logits path (forward/backward with dlogits).
// (b) two GRPO steps through the Trainer (policy and its clone as the KL reference in 'bf16-mixed'):
//     the first step's rollouts (bf16-mixed decode) equal fp32's and its loss and gradient norm agree within REL; the
//     steps leave no tensors behind.
// (c) a short SFT run still learns: the loss falls like the fp32 run's.
// Runs only where a cuda device is tested (the simulator pass: STEPRL_BACKEND=cuda-sim STEPRL_TEST_DEVICES=cuda);
// the option's errors run on the cpu.
//
// Tolerance. bf16 keeps 8 significant bits: rounding an fp32 value to bf16 has relative error
// <= u = 2^-9. A GEMM output y = Σ_k a_k·b_k over bf16-rounded a and b (fp32 accumulation) has
// per-term relative error <= 2u = 2^-8; the rounding errors are independent, so the sum's error is
// a random walk, ~2^-8·sqrt(Σ_k (a_k b_k)²): ~2^-8 of |y| when the terms do not cancel, and ~2^-8
// of the norm of a whole output tensor whatever K is. Errors entering a GEMM pass through (norms
// and the residual stream do not amplify them here), and each GEMM in series adds its own ~2^-8 in
// quadrature: the forward has 4 GEMMs per layer in series plus the lm_head, the backward the same
// again (its upstream gradients are cast to bf16 too), ~sqrt(2·(4·2 + 1)) ≈ 4.2 for this 2-layer
// model. So tensors compared as a whole (normwise relative error: logits, gradients per parameter
// and in total, the updated weights) get REL = 4·2^-8 ≈ 0.016; the loss and gradient norm, being
// smooth functions of those, the same. Log-probs: an error δ in the logits moves a log-prob by at
// most 2·max|δ|; this init's logits stay below 1 in magnitude (N(0, 0.02) weights, C = 64), so
// LOGPROB_ATOL = 2·REL. Measured on the simulator (see the console lines): logprobs 1e-3, gradients
// 2.8e-3 (0.7·2^-8), logits 1.9e-3: the bound holds with 5x room, while a wrong operand (a stale
// weight copy, a missing cast, a gradient into the wrong buffer) gives relative errors of O(1).
import { ArgumentError, Tensor, memory, ops, toBFloat16, type Device } from '../../lib';
import { Trainer } from '../../lib/optim/base';
import { grpo } from '../../lib/optim/grpo';
import { RuleBasedPRM } from '../../lib/reward/prm';
import { ToyTask, ToyTokenizer } from '../optim/toy';
import { TinyLM } from '../../lib/model/tinylm';
import { supervisedFineTune, type SftExample } from '../../lib/model/sft';
import { AdamW } from '../../lib/optim/adamw';
import { hiddenLogprobs } from '../../lib/optim/hidden_path';
import { describeOn } from '../util/devices';
import { Rng } from '../util/random';

const U = 2 ** -8;
const REL = 4 * U;
const LOGPROB_ATOL = 2 * REL;
const CONFIG = { vocabSize: 48, hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 96, maxPositions: 32 };
const LR = 1e-2;

/** ‖a − b‖ / ‖b‖ over float arrays. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

interface StepResult {
  loss: number;
  logprobs: Float32Array;
  grads: Float32Array;
  gradNorm: number;
  before: Float32Array;
  after: Float32Array;
  model: TinyLM;
}

const R = 4, P = 4, T = 8;

function batch(): { sequence: Int32Array; targets: Int32Array; advantages: Float32Array } {
  const rng = new Rng(11);
  const sequence = rng.ints(R * (P + T), 0, CONFIG.vocabSize);
  const targets = new Int32Array(R * T);
  for (let r = 0; r < R; r++) for (let t = 0; t < T; t++) targets[r * T + t] = sequence[r * (P + T) + P + t];
  const advantages = new Float32Array(R * T);
  for (let r = 0; r < R; r++) advantages.fill(r % 2 === 0 ? 1.2 : -0.8, r * T, (r + 1) * T);
  return { sequence, targets, advantages };
}

/** One GRPO-style step on the hidden-state path: log-probs, clipped policy loss (old = current), backward, AdamW. */
async function hiddenStep(device: Device, precision: 'fp32' | 'bf16-mixed'): Promise<StepResult> {
  const model = TinyLM.create(CONFIG, { seed: 5, device, precision });
  const { sequence, targets, advantages } = batch();
  const seq = Tensor.from(sequence, [R, P + T], { device }), tgt = Tensor.from(targets, [R * T], { device });
  const pass = await hiddenLogprobs(model, seq, tgt, P, T, 1, { train: true });
  // The hidden-state path hands the bf16 hidden states and lm_head copy to linearTokenLogprobs.
  expect([pass.states.hidden.dtype, pass.states.lmHead.dtype]).toEqual(precision === 'fp32' ? ['float32', 'float32'] : ['bfloat16', 'bfloat16']);
  expect(pass.states.lmHeadGrad!.dtype).toBe('float32');
  const logprobs = pass.logprobs.toFloat32();
  // ℓold: the same constants for both runs, near ℓ (≈ −log V) so the ratios sit inside the clip.
  const old = Tensor.from(Float32Array.from({ length: R * T }, (_, i) => -Math.log(CONFIG.vocabSize) + 0.08 * Math.sin(i)), [R, T], { device });
  const result = ops.policyLoss({
    logprobs: pass.logprobs.reshape([R, T]), oldLogprobs: old, advantages: Tensor.from(advantages, [R, T], { device }),
    mask: Tensor.from(new Float32Array(R * T).fill(1), [R, T], { device }),
  });
  await pass.backward(result.dlogprobs.reshape([R * T]));
  pass.dispose();
  const grads = model.gradBuffer.toFloat32();
  const before = model.weightBuffer.toFloat32();
  const optimizer = new AdamW(model.parameters(), { lr: LR, weightDecay: 0.01 });
  const gradNorm = optimizer.step();
  return { loss: result.loss, logprobs, grads, gradNorm, before, after: model.weightBuffer.toFloat32(), model };
}

describeOn('cuda', "TinyLM precision 'bf16-mixed' on cuda", () => {
  test('a training step matches the fp32 cpu step within the bf16 tolerance', async () => {
    const fp32 = await hiddenStep('cpu', 'fp32');
    const mixed = await hiddenStep('cuda', 'bf16-mixed');
    expect(mixed.model.precision).toBe('bf16-mixed');
    expect(mixed.before).toEqual(fp32.before);  // same initialization
    const report = {
      loss: Math.abs(mixed.loss - fp32.loss) / Math.abs(fp32.loss),
      logprobs: maxAbsDiff(mixed.logprobs, fp32.logprobs),
      grads: relativeError(mixed.grads, fp32.grads),
      gradNorm: Math.abs(mixed.gradNorm - fp32.gradNorm) / fp32.gradNorm,
    };
    console.log(`bf16-mixed vs fp32: ${JSON.stringify(report)}`);
    // The GEMMs did run in bf16: the difference is bf16 rounding, far above fp32's (~1e-6).
    expect(report.grads).toBeGreaterThan(1e-4);
    expect(report.loss).toBeLessThan(REL);
    expect(report.logprobs).toBeLessThan(LOGPROB_ATOL);
    expect(report.grads).toBeLessThan(REL);
    expect(report.gradNorm).toBeLessThan(REL);
    // Per parameter too (each GEMM weight's gradient is accumulated in fp32 into the master buffer).
    for (const spec of mixed.model.specs) {
      const a = mixed.grads.subarray(spec.offset, spec.offset + spec.numel), b = fp32.grads.subarray(spec.offset, spec.offset + spec.numel);
      expect([spec.name, relativeError(a, b) < REL]).toEqual([spec.name, true]);
    }
    // The updated master weights. AdamW's first step moves each weight by lr·g/(|g| + eps) ≈ ±lr
    // (plus decay), so an element's update flips sign exactly where its gradient is within bf16
    // noise of 0: every weight is within 2·lr of fp32's, and the flipped ones are a few percent.
    let flipped = 0;
    for (let i = 0; i < fp32.after.length; i++) {
      const du = Math.abs((mixed.after[i] - mixed.before[i]) - (fp32.after[i] - fp32.before[i]));
      expect(du).toBeLessThanOrEqual(2 * LR * 1.0001);
      if (du > LR) flipped++;
    }
    console.log(`updates that changed direction: ${flipped} of ${fp32.after.length}`);
    expect(flipped / fp32.after.length).toBeLessThan(0.01);
    expect(relativeError(mixed.after, fp32.after)).toBeLessThan(REL);

    // The bf16 copy follows the master weights: stale after the step, refreshed by the next forward.
    const model = mixed.model, device = 'cuda';
    const fresh = () => Array.from(toBFloat16(model.weightBuffer.toFloat32()));
    const { sequence } = batch();
    await model.hidden(Tensor.from(sequence, [R, P + T], { device }));
    expect(Array.from(model.weightBufferBf16!.toArray())).toEqual(fresh());
    model.weightBuffer.fill(0.5);
    model.markWeightsChanged();
    await model.hidden(Tensor.from(sequence, [R, P + T], { device }));
    expect(new Set(model.weightBufferBf16!.toArray())).toEqual(new Set([0x3f00]));
    fp32.model.dispose();
    mixed.model.dispose();
  });

  test('the logits path (forward/backward with dlogits) matches fp32 within the bf16 tolerance', async () => {
    const { sequence } = batch();
    const rng = new Rng(3);
    const dlogits = rng.floats(R * (P + T) * CONFIG.vocabSize, 0.05);
    const run = async (device: Device, precision: 'fp32' | 'bf16-mixed') => {
      const model = TinyLM.create({ ...CONFIG, valueHead: true }, { seed: 8, device, precision });
      const logits = (await model.forward(Tensor.from(sequence, [R, P + T], { device }), { train: true })).toFloat32();
      await model.backward(Tensor.from(dlogits, [R, P + T, CONFIG.vocabSize], { device }));
      const grads = model.gradBuffer.toFloat32();
      model.dispose();
      return { logits, grads };
    };
    const fp32 = await run('cpu', 'fp32'), mixed = await run('cuda', 'bf16-mixed');
    const report = { logits: relativeError(mixed.logits, fp32.logits), grads: relativeError(mixed.grads, fp32.grads) };
    console.log(`logits path, bf16-mixed vs fp32: ${JSON.stringify(report)}`);
    expect(report.logits).toBeLessThan(REL);
    expect(report.grads).toBeLessThan(REL);
  });

  test('GRPO steps through the Trainer: the first matches fp32, the steps free what they made', async () => {
    const task = new ToyTask(), tokenizer = new ToyTokenizer();
    const config = { vocabSize: 8, hiddenSize: 16, numLayers: 1, numHeads: 2, numKvHeads: 1, intermediateSize: 24, maxPositions: 32 };
    const run = async (device: Device, precision: 'fp32' | 'bf16-mixed') => {
      const policy = TinyLM.create(config, { seed: 3, device, precision });
      const reference = policy.clone();
      expect(reference.precision).toBe(precision);
      const trainer = new Trainer({
        policy, reference, algorithm: grpo({ klCoef: 0.05 }), task, tokenizer, prm: new RuleBasedPRM(task),
        promptsPerStep: 3, groupSize: 4, maxNewTokens: 6, lr: 1e-3, microBatchRows: 5, trainProblems: 6, seed: 2,
      });
      const metrics: Record<string, number>[] = [], live: number[] = [];
      for (let step = 0; step < 2; step++) {
        metrics.push(await trainer.trainStep() as unknown as Record<string, number>);
        live.push(memory().tensors);
      }
      policy.dispose();
      reference.dispose();
      return { metrics, live };
    };
    const fp32 = await run('cpu', 'fp32'), mixed = await run('cuda', 'bf16-mixed');
    // Step 0 samples from the same weights: the same rollouts (bf16-mixed decodes with bf16 GEMMs
    // and a bf16 KV cache, whose logits differ from fp32's by bf16 noise that moves no sample here).
    expect(mixed.metrics[0].rewardMean).toBe(fp32.metrics[0].rewardMean);
    expect(mixed.metrics[0].responseLength).toBe(fp32.metrics[0].responseLength);
    for (const key of ['loss', 'gradNorm', 'entropy'])
      expect([key, Math.abs(mixed.metrics[0][key] - fp32.metrics[0][key]) <= REL * Math.max(Math.abs(fp32.metrics[0][key]), 1e-3)]).toEqual([key, true]);
    for (const m of mixed.metrics) expect(Number.isFinite(m.loss)).toBe(true);
    expect(mixed.live[1]).toBe(mixed.live[0]);
  });

  test('a short SFT run learns as the fp32 run does', async () => {
    // Reverse a 3-token prompt: the completion is a function of the prompt, learnable in a few steps.
    const rng = new Rng(21);
    const examples: SftExample[] = [];
    for (let i = 0; i < 48; i++) {
      const prompt = rng.ints(3, 4, CONFIG.vocabSize);
      examples.push({ prompt, completion: Int32Array.from([prompt[2], prompt[1], prompt[0], 1]) });
    }
    const run = async (device: Device, precision: 'fp32' | 'bf16-mixed') => {
      const model = TinyLM.create(CONFIG, { seed: 2, device, precision });
      const losses: number[] = [];
      await supervisedFineTune(model, examples, { epochs: 4, batchSize: 8, lr: 1e-2, seed: 1, onStep: (s) => losses.push(s.loss) });
      model.dispose();
      return losses;
    };
    const fp32 = await run('cpu', 'fp32'), mixed = await run('cuda', 'bf16-mixed');
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = (xs: number[]) => mean(xs.slice(0, 3)), last = (xs: number[]) => mean(xs.slice(-3));
    console.log(`SFT loss, first 3 / last 3 steps: fp32 ${first(fp32).toFixed(4)} -> ${last(fp32).toFixed(4)}, bf16-mixed ${first(mixed).toFixed(4)} -> ${last(mixed).toFixed(4)}`);
    expect(mixed.length).toBe(fp32.length);
    expect(last(fp32)).toBeLessThan(0.7 * first(fp32));
    expect(last(mixed)).toBeLessThan(0.7 * first(mixed));
    // Same data, order and initialization: the curves stay together (bf16 noise, not a different run).
    expect(Math.abs(last(mixed) - last(fp32)) / last(fp32)).toBeLessThan(0.1);
  });
});

describeOn('cpu', "TinyLM precision option errors", () => {
  test("'bf16-mixed' is for cuda; unknown precisions are rejected", () => {
    expect(() => TinyLM.create(CONFIG, { precision: 'bf16-mixed' })).toThrow(ArgumentError);
    expect(() => TinyLM.create(CONFIG, { precision: 'bf16-mixed' })).toThrow(/options\.precision.*cuda/);
    expect(() => TinyLM.create(CONFIG, { precision: 'fp16' as never })).toThrow(/'fp32', 'bf16-mixed' for options\.precision/);
    const model = TinyLM.create(CONFIG, { precision: 'fp32' });
    expect(model.precision).toBe('fp32');
    expect(model.weightBufferBf16).toBeNull();
    expect(() => model.clone({ precision: 'bf16-mixed' })).toThrow(ArgumentError);
    model.dispose();
  });
});
