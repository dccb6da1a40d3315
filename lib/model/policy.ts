// policy.ts: the plug between steprl's optimizers and a transformer forward pass. Anything that
// implements PolicyModel (TinyLM, or an adapter around another engine) can be trained; see the
// README section "TinyLM and your own model" and test/optim/custom_model.test.ts (a complete adapter).
// The Trainer runs each step in a scope (lib/scope.ts) that frees the tensors made during it: a
// model that keeps tensors across calls (caches, buffers) makes them under untracked() or keep()s them.
import type { Tensor } from '../tensor';

export interface Parameter {
  /** Stable name (Hugging Face naming for TinyLM). */
  name: string;
  value: Tensor;
  /** Gradient buffer the model's backward accumulates into; null for frozen parameters. */
  grad: Tensor | null;
  /**
   * Called by an optimizer after it has written `value` (AdamW.step does). A model that keeps
   * derived copies of its weights (TinyLM's bf16 copies under precision 'bf16-mixed') marks them stale.
   */
  onUpdate?: () => void;
}

export interface ForwardOptions {
  /** Keep what backward() needs (a training forward). Default false. */
  train?: boolean;
  /**
   * Per row, the index of its first real token when rows are left-padded (prompts of different
   * lengths): earlier positions are ignored by attention and positions count from it. Default 0.
   */
  attentionStart?: Int32Array;
}

export interface SamplingOptions {
  maxNewTokens: number;
  /** 0 = greedy. Default 1. */
  temperature?: number;
  /** Nucleus sampling mass, 1 = off. */
  topP?: number;
  /** Keep the k most likely tokens, 0 = off. */
  topK?: number;
  /** Generation of a row stops after any of these tokens (which is kept). */
  stopTokens?: readonly number[];
  seed?: number;
}

/** What generate() returns: responses right-padded to the longest one. */
export interface Rollouts {
  /** int32 [R, T] sampled tokens (pad after a row's end). */
  tokens: Tensor;
  /** float32 [R, T]: 1 on generated tokens (the stop token included), 0 on padding. */
  mask: Tensor;
  /** float32 [R, T]: log-probability of each token under softmax(logits / temperature), 0 on padding (TinyLM: on the model's device; tokens and mask on the cpu). */
  logprobs: Tensor;
  /** float32 [R, T]: entropy of that distribution at each step, 0 on padding (where logprobs are). */
  entropy: Tensor;
  /** Tokens generated per row. */
  lengths: Int32Array;
  /** Whether each row ended with a stop token (false: it hit maxNewTokens). */
  finished: boolean[];
}

/**
 * What the hidden-state path of a model hands the trainer (PolicyModel.hidden): the final hidden
 * states of every position and the output projection, so the log-probs of the tokens that matter
 * are taken by ops.linearTokenLogprobs (rows addressed by offsets, never copied) without the
 * [rows, positions, V] logits ever existing.
 */
export interface HiddenStates {
  /**
   * float32 (bfloat16 under TinyLM's 'bf16-mixed') [B * T, C]: the final hidden states (after the last norm), row b*T + t for position t
   * of row b; logits = hidden · lmHeadᵀ. The model's own memory: valid until its next forward of the
   * same kind (train or not); do not dispose it.
   */
  hidden: Tensor;
  /** float32 [V, C] (its bfloat16 copy under TinyLM's 'bf16-mixed'): the output projection (the embedding table when tied). */
  lmHead: Tensor;
  /** float32 [V, C]: lmHead's gradient buffer, for the caller to accumulate into; null when frozen. */
  lmHeadGrad: Tensor | null;
}

export interface PolicyModel {
  readonly vocabSize: number;
  readonly device: 'cpu' | 'cuda';
  /** logits float32 [R, T, V] for tokens int32 [R, T]. */
  forward(tokens: Tensor, options?: ForwardOptions): Promise<Tensor>;
  /**
   * Back-propagates d(loss)/d(logits) (and d(loss)/d(values) for a value head) through the last
   * training forward, accumulating into the parameters' grad buffers.
   */
  backward(dlogits: Tensor, dvalues?: Tensor): Promise<void>;
  /**
   * Optional fast path: the forward pass up to the final hidden states (no logits). With
   * `train: true` it is a training forward, whose backward is backwardHidden(). A model offering
   * both is trained through ops.linearTokenLogprobs; one without them through forward()/backward().
   */
  hidden?(tokens: Tensor, options?: ForwardOptions): Promise<HiddenStates>;
  /**
   * Back-propagates d(loss)/d(hidden) float32 [B * T, C] (and d(loss)/d(values)) through the last
   * training hidden() pass into the parameters' grad buffers. The lm_head's own gradient is the
   * caller's to accumulate into HiddenStates.lmHeadGrad (linearTokenLogprobsBackward's dweight).
   */
  backwardHidden?(dhidden: Tensor, dvalues?: Tensor): Promise<void>;
  /** Value-head estimates float32 [R, T] (PPO / PSPO with a critic); of the last training forward when tokens are the same. */
  values?(tokens: Tensor, options?: ForwardOptions): Promise<Tensor>;
  /** Samples a response for each prompt. */
  generate(prompts: readonly Int32Array[], options: SamplingOptions): Promise<Rollouts>;
  parameters(): Parameter[];
  /** Zeroes every grad buffer (optional: the trainer fills each grad with 0 otherwise). */
  zeroGrad?(): void;
  /**
   * Optional: frees the activation memory the model keeps between calls (its next forward makes it
   * again). The Trainer calls it when a phase of its step is done with the model (after the
   * reference log-probs, after the update), so one phase's activations are not resident in the next.
   */
  releaseActivations?(): void;
}
