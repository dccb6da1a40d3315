// update.ts: the policy (and value) update over one rollout batch, the same for every algorithm:
// epochs × mini-batches (one optimizer step each) × micro-batches (forward/backward), with the
// loss aggregated exactly over the mini-batch (tokenCount/rowCount passed to policyLoss).
import * as ops from '../ops/index';
import { Tensor } from '../tensor';
import type { PolicyModel } from '../model/policy';
import type { AdamW } from './adamw';
import type { LossSettings } from './algorithm';
import { onHost, type RolloutBatch } from './batch';
import { gatherResponseLogits, scatterResponseGrad } from './rollout';
import { hasHiddenPath, hiddenLogprobs } from './hidden_path';
import type { Random } from '../util/random';
import { scope } from '../scope';
import { ResidentBatch } from './resident';

export interface UpdateInputs {
  batch: RolloutBatch;
  /** [R * T] host arrays, or tensors of R·T elements (on the policy's device: used without a copy). */
  advantages: Float32Array | Tensor;
  returns?: Float32Array | Tensor;
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

export async function updatePolicy(
  policy: PolicyModel, optimizer: AdamW, loss: LossSettings, inputs: UpdateInputs,
  options: { temperature: number; lr: number; microBatchRows: number; maxLength: number; random: Random; critic: boolean },
): Promise<UpdateStats> {
  const { batch, advantages, returns } = inputs;
  const { R, P, T } = batch;
  const width = P + T;
  const stats: UpdateStats = { loss: 0, pgLoss: 0, klLoss: 0, valueLoss: 0, clipFraction: 0, kl: 0, approxKl: 0, gradNorm: 0, optimizerSteps: 0 };
  let tokensSeen = 0;
  const device = policy.device;
  // The batch's per-token arrays go to the policy's device once (resident.ts), not per micro-batch.
  const resident = new ResidentBatch(batch, device, { advantages, returns });
  // Tokens per row: from the mask where it is on the host, else from the lengths (batch.ts: the mask
  // is 1 exactly on the first lengths[r] tokens), so a device-resident mask is not read back.
  const hostMask = onHost(batch, 'mask') ? batch.mask : null;
  const rowTokens = (r: number): number => {
    if (hostMask === null) return batch.lengths[r];
    let n = 0;
    for (let t = 0; t < T; t++) n += hostMask[r * T + t];
    return n;
  };
  try {
    for (let epoch = 0; epoch < loss.epochs; epoch++) {
      const order = loss.epochs > 1 || loss.miniBatches > 1 ? options.random.shuffle(Array.from({ length: R }, (_, i) => i)) : Array.from({ length: R }, (_, i) => i);
      const miniSize = Math.ceil(R / loss.miniBatches);
      for (let first = 0; first < R; first += miniSize) {
        const mini = order.slice(first, first + miniSize);
        let tokenCount = 0;
        for (const r of mini) tokenCount += rowTokens(r);
        if (tokenCount === 0) continue;
        policy.zeroGrad ? policy.zeroGrad() : policy.parameters().forEach((p) => p.grad?.fill(0));
        for (let m = 0; m < mini.length; m += options.microBatchRows) {
          const rows = mini.slice(m, m + options.microBatchRows), n = rows.length;
          // Every tensor of the micro-batch (views and op outputs included) is freed when it ends.
          const micro = await scope(async () => {
            const on = resident.rows(rows);
            const attentionStart = Int32Array.from(rows, (r) => batch.attentionStart[r]);
            // Log-probs of the response tokens: from the hidden states when the model offers them (no
            // logits buffer), else from the logits picked at the response positions.
            let logprobs: Tensor, backward: (dlogprobs: Tensor, dvalues?: Tensor) => Promise<void>;
            const lossInputs = { oldLogprobs: on.oldLogprobs, advantages: on.advantages, mask: on.mask, refLogprobs: on.refLogprobs };
            const lossOptions = {
              clipLow: loss.clipLow, clipHigh: loss.clipHigh, dualClip: loss.dualClip, klCoef: loss.klCoef, klEstimator: loss.klEstimator,
              aggregation: loss.aggregation, tokenCount, rowCount: mini.length, maxLength: options.maxLength, mode: loss.lossMode,
            };
            let onePass: ops.PolicyLossResult | undefined;
            if (hasHiddenPath(policy)) {
              // The loss goes into the pass: where its mode allows, it runs there (one pass over the vocabulary).
              const pass = await hiddenLogprobs(policy, on.sequence, on.targets, P, T, options.temperature, { train: true, attentionStart },
                false, { inputs: lossInputs, options: lossOptions });
              ({ logprobs, backward, loss: onePass } = pass);
            } else {
              const logits = await policy.forward(on.sequence, { train: true, attentionStart });
              const picked = gatherResponseLogits(logits, n, P, T);
              const lp = ops.tokenLogprobs(picked, on.targets, { temperature: options.temperature });
              logprobs = lp.logprobs;
              backward = async (dlogprobs: Tensor, dvalues?: Tensor) => {
                const dpicked = ops.tokenLogprobsBackward(picked, on.targets, lp.logZ, dlogprobs, { temperature: options.temperature });
                await policy.backward(scatterResponseGrad(dpicked, n, P, T), dvalues);
              };
            }
            const result = onePass ?? ops.policyLoss({ logprobs: logprobs.reshape([n, T]), ...lossInputs }, lossOptions);
            let dvalues: Tensor | undefined, valueLoss = 0;
            const critic = Boolean(options.critic && returns && on.oldValues);
            if (critic) {
              // The clipped value loss (§1.8) on the policy's device: only the scalar loss comes back.
              // On the cpu it has the bits of the host loop it replaced (include/steprl/value_loss.h).
              const values = await policy.values!(on.sequence, { attentionStart });
              const vf = ops.valueLoss(
                { values: values.reshape([n, width]), oldValues: on.oldValues!, returns: on.returns!, mask: on.mask },
                { offset: P - 1, clip: loss.valueClip, coef: loss.valueCoef, tokenCount },
              );
              valueLoss = vf.loss;
              dvalues = vf.dvalues;
            }
            await backward(result.dlogprobs.reshape([n * T]), dvalues);
            const { dlogprobs: _, ...scalars } = result;
            return { ...scalars, valueLoss, critic };
          });
          const microTokens = rows.reduce((s, r) => s + batch.lengths[r], 0);
          stats.loss += micro.loss;
          stats.pgLoss += micro.pgLoss;
          stats.klLoss += micro.klLoss;
          stats.clipFraction += micro.clipFraction * microTokens;
          stats.kl += micro.kl * microTokens;
          stats.approxKl += micro.approxKl * microTokens;
          tokensSeen += microTokens;
          if (micro.critic) {
            stats.valueLoss += micro.valueLoss;
            stats.loss += micro.valueLoss;
          }
        }
        stats.gradNorm = optimizer.step(options.lr);
        stats.optimizerSteps++;
      }
    }
  } finally {
    resident.dispose();
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
