// hidden_path.ts: the trainer's fast path for a model that offers its hidden states
// (PolicyModel.hidden / backwardHidden, e.g. TinyLM): the response tokens' log-probs come from
// ops.linearTokenLogprobs over the final hidden states at the response positions (rows addressed by
// offsets, not copied), and their gradient goes back as dhidden [rows*(P+T), C] plus the lm_head
// gradient, accumulated straight into the model's buffer. No [rows, P+T, V] logits, no gathered
// [rows*T, V] copy and no dlogits exist on this path; a model without it uses forward()/backward().
// When the caller hands over the policy loss's inputs and its mode allows (ops.linearPolicyLoss:
// 'clip' and 'cispo', on the cpu and on cuda), the loss runs inside the op and every logit is computed once
// instead of twice (forward, then again in the backward); its log-probs, dhidden and lm_head
// gradient have the two-pass path's bits up to 1024 tokens per block (the default for V up to ~65k).
import * as ops from '../ops/index';
import { Tensor } from '../tensor';
import type { ForwardOptions, HiddenStates, PolicyModel } from '../model/policy';
import type { LinearPolicyLossInputs, PolicyLossResult } from '../ops/index';
import type { PolicyLossOptions } from '../ops/policy_loss';

export type HiddenPolicy = PolicyModel & Required<Pick<PolicyModel, 'hidden' | 'backwardHidden'>>;

export function hasHiddenPath(model: PolicyModel): model is HiddenPolicy {
  return typeof model.hidden === 'function' && typeof model.backwardHidden === 'function';
}

/** int32 [rows * T]: the position of each response token's logits, row i*(P+T) + P-1+t. */
export function responsePositions(rows: number, P: number, T: number, device: 'cpu' | 'cuda'): Tensor {
  const out = new Int32Array(rows * T);
  for (let r = 0; r < rows; r++) for (let t = 0; t < T; t++) out[r * T + t] = r * (P + T) + P - 1 + t;
  return Tensor.from(out, [rows * T], { device });
}

let onePassLoss = true, onePassRuns = 0;
/** Whether the hidden path runs the loss in one pass where it can (default true); false: always two passes. */
export function setOnePassLoss(enabled: boolean): void {
  onePassLoss = enabled;
}
/** How many passes ran the loss inside ops.linearPolicyLoss so far (for tests and benchmarks). */
export function onePassLossRuns(): number {
  return onePassRuns;
}

/** The policy loss to run inside the pass (one-pass), when its mode and the device allow it. */
export interface HiddenLossRequest {
  inputs: LinearPolicyLossInputs;
  options: PolicyLossOptions;
}

/** One pass of the hidden path: log-probs of `targets` [rows*T] and what their backward needs. */
export interface HiddenLogprobs {
  logprobs: Tensor;
  logZ: Tensor;
  /**
   * The policy loss, as ops.policyLoss gives it, when it ran inside the pass (a HiddenLossRequest
   * the op supports): then the lm_head gradient is already accumulated and backward() ignores its
   * dlogprobs.
   */
  loss?: PolicyLossResult;
  /** Entropy of softmax(logits / temperature) per token, when asked for. */
  entropy?: Tensor;
  states: HiddenStates;
  positions: Tensor;
  /** Gradient of the log-probs -> the model's parameters (lm_head included); frees the pass's tensors. */
  backward(dlogprobs: Tensor, dvalues?: Tensor): Promise<void>;
  dispose(): void;
}

export async function hiddenLogprobs(
  model: HiddenPolicy, sequence: Tensor, targets: Tensor, P: number, T: number, temperature: number, options: ForwardOptions,
  withEntropy = false, lossRequest?: HiddenLossRequest,
): Promise<HiddenLogprobs> {
  const rows = sequence.shape[0];
  const states = await model.hidden(sequence, options);
  const positions = responsePositions(rows, P, T, model.device);
  if (lossRequest && !withEntropy && onePassLoss && ops.linearPolicyLossSupports(lossRequest.options.mode)) {
    onePassRuns++;
    const out = ops.linearPolicyLoss(states.hidden, states.lmHead, targets, lossRequest.inputs, {
      ...lossRequest.options, temperature, rows: positions, dweight: states.lmHeadGrad ?? undefined,
    });
    const { logprobs, logZ, dlogprobs, dhidden } = out;
    const scalars = { loss: out.loss, pgLoss: out.pgLoss, klLoss: out.klLoss, clipFraction: out.clipFraction, kl: out.kl, approxKl: out.approxKl };
    return {
      logprobs, logZ, loss: { ...scalars, dlogprobs }, states, positions,
      backward: async (_dlogprobs: Tensor, dvalues?: Tensor) => {
        try {
          await model.backwardHidden(dhidden, dvalues);
        } finally {
          dhidden.dispose();
        }
      },
      dispose: () => {
        for (const t of [logprobs, logZ, dlogprobs, dhidden, positions]) t.dispose();
      },
    };
  }
  const { logprobs, logZ, entropy } = ops.linearTokenLogprobs(states.hidden, states.lmHead, targets,
    { temperature, rows: positions, entropy: withEntropy });
  return {
    logprobs, logZ, entropy, states, positions,
    backward: async (dlogprobs: Tensor, dvalues?: Tensor) => {
      const dhidden = ops.linearTokenLogprobsBackward(states.hidden, states.lmHead, targets, logZ, dlogprobs, {
        temperature, rows: positions, dweight: states.lmHeadGrad ?? undefined,
      });
      try {
        await model.backwardHidden(dhidden, dvalues);
      } finally {
        dhidden.dispose();
      }
    },
    dispose: () => {
      for (const t of [logprobs, logZ, entropy, positions]) t?.dispose();
    },
  };
}
