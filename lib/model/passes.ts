// passes.ts: the memory a TinyLM keeps between calls for its forward passes: one Pass per kind
// ('train' and 'eval': an evaluation between a training forward and its backward is then harmless),
// reallocated when the batch shape changes, and the SequenceLayout of the pass's input. Row b of a
// left-padded batch attends from attentionStart[b] on, and its token t sits at rotary position
// max(0, t - attentionStart[b]). All of it is made under untracked() (scope.ts): the model frees it.
import { ArgumentError, ShapeError } from '../errors';
import { Tensor, type Device } from '../tensor';
import { untracked } from '../scope';
import { allocateActivations, type Activations } from './activations';
import type { TinyLMConfig } from './config';
import type { ForwardOptions } from './policy';
import { allocateMixedPass, type MixedPass } from './mixed_pass';
import type { Weights } from './weights';

/** A pass's input, as the forward and backward read it (N = B*T). */
export interface SequenceLayout {
  tokens: Tensor;      // int32 [N]
  positions: Tensor;   // int32 [N]  rotary position of each token
  kvStart: Tensor;     // int32 [B]  first attended position per row (left padding)
  /** float32 [D/2]: scaled RoPE inverse frequencies (rope_scaling), or null for theta's. Owned by the model. */
  invFreq: Tensor | null;
}


export interface Pass {
  activations: Activations;
  /** The pass's bf16 GEMM operands under 'bf16-mixed'; null in fp32. */
  mixed: MixedPass | null;
  layout: SequenceLayout | null;
  tokens: Tensor | null;
}

/** Frees a layout's tensors (tokens is a reshape: the caller's own tensor stays alive). */
export function disposeLayout(layout: SequenceLayout | null): void {
  layout?.tokens.dispose();
  layout?.positions.dispose();
  layout?.kvStart.dispose();
}

/**
 * The layout of tokens int32 [B, T] (already on `device`): flat tokens, each token's rotary
 * position and each row's first attended key. `invFreqFor` gives the RoPE table for a length.
 */
export function sequenceLayout(tokens: Tensor, options: ForwardOptions, device: Device, invFreqFor: (sequenceLength: number) => Tensor | null): SequenceLayout {
  const [B, T] = tokens.shape;
  const start = options.attentionStart ?? new Int32Array(B);
  if (start.length !== B) throw new ShapeError('options.attentionStart', `Expected ${B} row starts but received ${start.length}`);
  const positions = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    if (!Number.isInteger(start[b]) || start[b] < 0 || start[b] >= Math.max(T, 1))
      throw ArgumentError.expected(`options.attentionStart[${b}]`, `an integer in [0, ${T})`, start[b]);
    for (let t = 0; t < T; t++) positions[b * T + t] = Math.max(0, t - start[b]);
  }
  return {
    tokens: tokens.reshape([B * T]),
    positions: Tensor.from(positions, [B * T], { device }),
    kvStart: Tensor.from(Int32Array.from(start), [B], { device }),
    invFreq: invFreqFor(T - Math.min(...start)),
  };
}

/** A model's two passes: the training one (kept for backward) and the inference one. */
export class Passes {
  train: Pass | null = null;
  eval: Pass | null = null;
  readonly #config: TinyLMConfig;
  readonly #device: Device;
  /** The model's bf16 weight views under 'bf16-mixed' (each pass then gets a MixedPass); null in fp32. */
  readonly #weightsBf16: Weights | null;

  constructor(config: TinyLMConfig, device: Device, weightsBf16: Weights | null) {
    this.#config = config;
    this.#device = device;
    this.#weightsBf16 = weightsBf16;
  }

  /** The activations of a pass of this shape; `withLogits` false leaves out the [B, T, V] logits. */
  get(which: 'train' | 'eval', B: number, T: number, withLogits: boolean): Pass {
    let pass = which === 'train' ? this.train : this.eval;
    if (pass === null || pass.activations.B !== B || pass.activations.T !== T || (pass.activations.logits !== null) !== withLogits) {
      pass?.activations.dispose();
      pass?.mixed?.dispose();
      disposeLayout(pass?.layout ?? null);  // the replaced pass's layout goes with it
      // An inference pass keeps one layer's buffers (nothing is kept for a backward).
      pass = untracked(() => ({
        activations: allocateActivations(this.#config, B, T, this.#device, withLogits, which === 'eval', this.#weightsBf16 !== null),
        mixed: this.#weightsBf16 === null ? null : allocateMixedPass(this.#config, this.#weightsBf16, B, T, this.#device),
        layout: null, tokens: null,
      }));
      if (which === 'train') this.train = pass;
      else this.eval = pass;
    }
    return pass;
  }

  /** Frees both passes; the next get() allocates again. */
  release(): void {
    for (const pass of [this.train, this.eval]) disposeLayout(pass?.layout ?? null);
    this.train?.activations.dispose();
    this.eval?.activations.dispose();
    this.train?.mixed?.dispose();
    this.eval?.mixed?.dispose();
    this.train = this.eval = null;
  }
}
