// sft.ts: supervised fine-tuning of any PolicyModel: next-token cross-entropy on the completion
// tokens of (prompt, completion) pairs, AdamW with warmup and cosine decay, gradient clipping.
// Sequences are right-padded per batch; the loss never sees the prompt or the padding.
import * as ops from '../ops/index';
import { Tensor } from '../tensor';
import { AdamW } from '../optim/adamw';
import { Random } from '../util/random';
import type { PolicyModel } from './policy';

export interface SftExample {
  prompt: Int32Array;
  completion: Int32Array;
}

export interface SftOptions {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  /** Fraction of the steps spent warming the learning rate up linearly. */
  warmup?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  seed?: number;
  padToken?: number;
  /** Called after every step. */
  onStep?: (progress: { step: number; steps: number; loss: number; tokens: number; lr: number }) => void;
}

export interface SftResult {
  steps: number;
  finalLoss: number;
  tokensPerSecond: number;
}

/** The learning rate at `step` of `steps`: linear warmup, then cosine decay to 10%. */
export function scheduledLr(base: number, step: number, steps: number, warmup: number): number {
  const warmSteps = Math.max(1, Math.round(warmup * steps));
  if (step < warmSteps) return (base * (step + 1)) / warmSteps;
  const progress = (step - warmSteps) / Math.max(1, steps - warmSteps);
  return base * (0.1 + 0.45 * (1 + Math.cos(Math.PI * progress)));
}

export async function supervisedFineTune(model: PolicyModel, examples: readonly SftExample[], options: SftOptions = {}): Promise<SftResult> {
  const epochs = options.epochs ?? 1, batchSize = options.batchSize ?? 32, lr = options.lr ?? 1e-3;
  const pad = options.padToken ?? 0;
  const random = new Random(options.seed ?? 0);
  const optimizer = new AdamW(model.parameters(), { lr, weightDecay: options.weightDecay ?? 0.01, maxGradNorm: options.maxGradNorm ?? 1 });
  const perEpoch = Math.ceil(examples.length / batchSize);
  const steps = perEpoch * epochs;
  const V = model.vocabSize;
  let step = 0, finalLoss = NaN, tokens = 0;
  const started = Date.now();
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = random.shuffle(examples.map((_, i) => i));
    for (let first = 0; first < order.length; first += batchSize) {
      const batch = order.slice(first, first + batchSize).map((i) => examples[i]);
      const B = batch.length;
      const T = Math.max(...batch.map((e) => e.prompt.length + e.completion.length));
      const ids = new Int32Array(B * T).fill(pad);
      const targets = new Int32Array(B * T).fill(pad);
      const mask = new Float32Array(B * T);
      batch.forEach((e, b) => {
        ids.set(e.prompt, b * T);
        ids.set(e.completion, b * T + e.prompt.length);
        const length = e.prompt.length + e.completion.length;
        // Position t predicts token t + 1; only completion tokens are targets.
        for (let t = 0; t + 1 < length; t++) {
          targets[b * T + t] = ids[b * T + t + 1];
          if (t + 1 >= e.prompt.length) mask[b * T + t] = 1;
        }
      });
      const input = Tensor.from(ids, [B, T]);
      const logits = await model.forward(input, { train: true });
      // Reshapes share storage; disposing them at once returns device memory without waiting for GC.
      const flat = logits.reshape([B * T, V]), targetTensor = Tensor.from(targets, [B * T], { device: model.device }),
        maskTensor = Tensor.from(mask, [B * T], { device: model.device });  // beside the logits (cuda models too)
      const ce = ops.crossEntropy(flat, targetTensor, maskTensor);
      model.zeroGrad ? model.zeroGrad() : model.parameters().forEach((p) => p.grad?.fill(0));
      const dlogits = ce.dlogits.reshape([B, T, V]);
      await model.backward(dlogits);
      for (const t of [input, flat, targetTensor, maskTensor, ce.dlogits, dlogits]) t.dispose();
      const rate = scheduledLr(lr, step, steps, options.warmup ?? 0.05);
      optimizer.step(rate);
      finalLoss = ce.loss;
      tokens += B * T;
      step++;
      options.onStep?.({ step, steps, loss: ce.loss, tokens: ce.tokens, lr: rate });
    }
  }
  return { steps, finalLoss, tokensPerSecond: tokens / Math.max((Date.now() - started) / 1000, 1e-9) };
}
