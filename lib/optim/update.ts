// update.ts: the policy (and value) update over one rollout batch, the same for every algorithm:
// epochs × mini-batches (one optimizer step each) × micro-batches (forward/backward), with the
// loss aggregated exactly over the mini-batch (tokenCount/rowCount passed to policyLoss).
import * as ops from '../ops/index';
import { Tensor } from '../tensor';
import type { PolicyModel } from '../model/policy';
import type { AdamW } from './adamw';
import type { LossSettings } from './algorithm';
import type { RolloutBatch } from './batch';
import { gatherResponseLogits, scatterResponseGrad } from './rollout';
import { hasHiddenPath, hiddenLogprobs } from './hidden_path';
import type { Random } from '../util/random';

export interface UpdateInputs {
  batch: RolloutBatch;
  advantages: Float32Array;
  returns?: Float32Array;
}

export interface UpdateStats {
  loss: number;
  pgLoss: number;
  klLoss: number;
  valueLoss: number;
  clipFraction: number;
  kl: number;
  approxKl: number;
  gradNorm: number;
  optimizerSteps: number;
}

function rowsTensor(source: ArrayLike<number>, rows: readonly number[], width: number, make: (n: number) => Float32Array | Int32Array): Float32Array | Int32Array {
  const out = make(rows.length * width);
  rows.forEach((r, i) => {
    for (let t = 0; t < width; t++) out[i * width + t] = source[r * width + t];
  });
  return out;
}

/** ½·max((V−G)², (clip(V, V_old ± c) − G)²) per token and its gradient (§1.8). */
function valueTerms(v: number, old: number, target: number, clip: number): { loss: number; grad: number } {
  const clipped = Math.min(Math.max(v, old - clip), old + clip);
  const a = (v - target) ** 2, b = (clipped - target) ** 2;
  return a >= b ? { loss: 0.5 * a, grad: v - target } : { loss: 0.5 * b, grad: 0 };
}

export async function updatePolicy(
  policy: PolicyModel, optimizer: AdamW, loss: LossSettings, inputs: UpdateInputs,
  options: { temperature: number; lr: number; microBatchRows: number; maxLength: number; random: Random; critic: boolean },
): Promise<UpdateStats> {
  const { batch, advantages, returns } = inputs;
  const { R, P, T } = batch;
  const width = P + T;
  const stats: UpdateStats = { loss: 0, pgLoss: 0, klLoss: 0, valueLoss: 0, clipFraction: 0, kl: 0, approxKl: 0, gradNorm: 0, optimizerSteps: 0 };
  let tokensSeen = 0;
  for (let epoch = 0; epoch < loss.epochs; epoch++) {
    const order = loss.epochs > 1 || loss.miniBatches > 1 ? options.random.shuffle(Array.from({ length: R }, (_, i) => i)) : Array.from({ length: R }, (_, i) => i);
    const miniSize = Math.ceil(R / loss.miniBatches);
    for (let first = 0; first < R; first += miniSize) {
      const mini = order.slice(first, first + miniSize);
      let tokenCount = 0;
      for (const r of mini) for (let t = 0; t < T; t++) tokenCount += batch.mask[r * T + t];
      if (tokenCount === 0) continue;
      policy.zeroGrad ? policy.zeroGrad() : policy.parameters().forEach((p) => p.grad?.fill(0));
      for (let m = 0; m < mini.length; m += options.microBatchRows) {
        const rows = mini.slice(m, m + options.microBatchRows), n = rows.length;
        const device = policy.device;
        const sequence = Tensor.from(rowsTensor(batch.sequences, rows, width, (k) => new Int32Array(k)), [n, width], { device });
        const attentionStart = Int32Array.from(rows, (r) => batch.attentionStart[r]);
        const targets = Tensor.from(rowsTensor(batch.tokens, rows, T, (k) => new Int32Array(k)), [n * T], { device });
        // Log-probs of the response tokens: from the hidden states when the model offers them (no
        // logits buffer), else from the logits picked at the response positions.
        let logprobs: Tensor, logZ: Tensor, backward: (dlogprobs: Tensor, dvalues?: Tensor) => Promise<void>;
        let release: () => void;
        if (hasHiddenPath(policy)) {
          const pass = await hiddenLogprobs(policy, sequence, targets, P, T, options.temperature, { train: true, attentionStart });
          ({ logprobs, logZ, backward } = pass);
          release = pass.dispose;
        } else {
          const logits = await policy.forward(sequence, { train: true, attentionStart });
          const picked = gatherResponseLogits(logits, n, P, T);
          ({ logprobs, logZ } = ops.tokenLogprobs(picked, targets, { temperature: options.temperature }));
          backward = async (dlogprobs: Tensor, dvalues?: Tensor) => {
            const dpicked = ops.tokenLogprobsBackward(picked, targets, logZ, dlogprobs, { temperature: options.temperature });
            const dlogits = scatterResponseGrad(dpicked, n, P, T);
            await policy.backward(dlogits, dvalues);
            dpicked.dispose();
            dlogits.dispose();
          };
          release = () => {
            for (const t of [picked, logprobs, logZ]) t.dispose();
          };
        }
        const rowData = (source: Float32Array) => Tensor.from(rowsTensor(source, rows, T, (k) => new Float32Array(k)), [n, T], { device });
        const mask = rowData(batch.mask), logprobRows = logprobs.reshape([n, T]), oldLogprobs = rowData(batch.oldLogprobs);
        const rowAdvantages = rowData(advantages), refLogprobs = batch.refLogprobs ? rowData(batch.refLogprobs) : undefined;
        const result = ops.policyLoss(
          { logprobs: logprobRows, oldLogprobs, advantages: rowAdvantages, mask, refLogprobs },
          {
            clipLow: loss.clipLow, clipHigh: loss.clipHigh, dualClip: loss.dualClip, klCoef: loss.klCoef, klEstimator: loss.klEstimator,
            aggregation: loss.aggregation, tokenCount, rowCount: mini.length, maxLength: options.maxLength, mode: loss.lossMode,
          },
        );
        const microTokens = rows.reduce((s, r) => s + batch.lengths[r], 0);
        stats.loss += result.loss;
        stats.pgLoss += result.pgLoss;
        stats.klLoss += result.klLoss;
        stats.clipFraction += result.clipFraction * microTokens;
        stats.kl += result.kl * microTokens;
        stats.approxKl += result.approxKl * microTokens;
        tokensSeen += microTokens;
        let dvalues: Tensor | undefined;
        if (options.critic && returns && batch.oldValues) {
          const values = (await policy.values!(sequence, { attentionStart })).toArray() as Float32Array;
          const dv = new Float32Array(n * width);
          let valueLoss = 0;
          rows.forEach((r, i) => {
            for (let t = 0; t < T; t++) {
              if (batch.mask[r * T + t] === 0) continue;
              const { loss: l, grad } = valueTerms(values[i * width + P - 1 + t], batch.oldValues![r * T + t], returns[r * T + t], loss.valueClip);
              valueLoss += (loss.valueCoef * l) / tokenCount;
              dv[i * width + P - 1 + t] = (loss.valueCoef * grad) / tokenCount;
            }
          });
          stats.valueLoss += valueLoss;
          stats.loss += valueLoss;
          dvalues = Tensor.from(dv, [n, width], { device });
        }
        const dlogprobs = result.dlogprobs.reshape([n * T]);
        await backward(dlogprobs, dvalues);
        // Reshaped views share storage: dispose them too so device memory returns at once.
        release();
        for (const t of [sequence, targets, logprobRows, mask, oldLogprobs, rowAdvantages, refLogprobs, result.dlogprobs, dlogprobs, dvalues])
          t?.dispose();
      }
      stats.gradNorm = optimizer.step(options.lr);
      stats.optimizerSteps++;
    }
  }
  const passes = Math.max(1, stats.optimizerSteps);
  stats.loss /= passes;
  stats.pgLoss /= passes;
  stats.klLoss /= passes;
  stats.valueLoss /= passes;
  stats.clipFraction /= Math.max(1, tokensSeen);
  stats.kl /= Math.max(1, tokensSeen);
  stats.approxKl /= Math.max(1, tokensSeen);
  return stats;
}
