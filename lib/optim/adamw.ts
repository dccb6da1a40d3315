// adamw.ts: AdamW over a model's parameters (torch.optim.AdamW semantics: decoupled weight decay,
// bias-corrected moments), with global gradient-norm clipping. Moments live beside the parameters
// on their device; matrices decay, vectors (norms, biases) do not. Parameters, gradients and
// moments are float32 in every model precision (under TinyLM's 'bf16-mixed' the parameters are the
// fp32 master weights; each Parameter's onUpdate tells the model its bf16 copies are stale).
import * as ops from '../ops/index';
import { Tensor } from '../tensor';
import { untracked } from '../scope';
import type { Parameter } from '../model/policy';

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Clip the global gradient L2 norm to this (0 = off). Default 1. */
  maxGradNorm?: number;
}

export class AdamW {
  readonly options: Required<AdamWOptions>;
  #params: Parameter[];
  #m: Tensor[];
  #v: Tensor[];
  #step = 0;

  constructor(params: Parameter[], options: AdamWOptions) {
    this.options = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1, ...options };
    this.#params = params.filter((p) => p.grad !== null);
    // The moments live as long as the optimizer: no caller's scope (scope.ts) frees them.
    this.#m = untracked(() => this.#params.map((p) => Tensor.zeros([p.value.numel], { device: p.value.device })));
    this.#v = untracked(() => this.#params.map((p) => Tensor.zeros([p.value.numel], { device: p.value.device })));
  }

  get stepCount(): number {
    return this.#step;
  }

  /** The global L2 norm of the gradients. */
  gradNorm(): number {
    let sum = 0;
    for (const p of this.#params) sum += ops.gradNorm(p.grad!) ** 2;
    return Math.sqrt(sum);
  }

  /** One update; returns the gradient norm before clipping. `lr` overrides the configured rate. */
  step(lr = this.options.lr): number {
    const norm = this.gradNorm();
    const { maxGradNorm } = this.options;
    const gradScale = maxGradNorm > 0 && norm > maxGradNorm ? maxGradNorm / norm : 1;
    this.#step++;
    this.#params.forEach((p, i) => {
      ops.adamw(
        { params: p.value, grads: p.grad!, m: this.#m[i], v: this.#v[i] },
        {
          lr, beta1: this.options.beta1, beta2: this.options.beta2, eps: this.options.eps,
          weightDecay: p.value.shape.length >= 2 ? this.options.weightDecay : 0, step: this.#step, gradScale,
        },
      );
    });
    // The fp32 values are the master weights: a model's derived copies (bf16) refresh from them.
    for (const p of this.#params) p.onUpdate?.();
    return norm;
  }

  /** Optimizer state for checkpoints: moments flattened in parameter order, plus the step. */
  state(): { step: number; names: string[]; m: Float32Array[]; v: Float32Array[] } {
    return { step: this.#step, names: this.#params.map((p) => p.name), m: this.#m.map((t) => t.toArray() as Float32Array), v: this.#v.map((t) => t.toArray() as Float32Array) };
  }

  loadState(state: { step: number; names: string[]; m: Float32Array[]; v: Float32Array[] }): void {
    const names = this.#params.map((p) => p.name);
    if (state.names.length !== names.length || state.names.some((n, i) => n !== names[i]))
      throw new Error('steprl: optimizer state does not match the model parameters');
    this.#step = state.step;
    this.#m.forEach((t, i) => t.copyFrom(Tensor.from(state.m[i], [state.m[i].length], { device: t.device })));
    this.#v.forEach((t, i) => t.copyFrom(Tensor.from(state.v[i], [state.v[i].length], { device: t.device })));
  }
}
