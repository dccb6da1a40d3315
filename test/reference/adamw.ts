// reference/adamw.ts: float64 AdamW, the executable spec of adamw (torch.optim.AdamW's single-tensor
// update: decoupled weight decay first, then bias-corrected moments), and of gradNorm.
export interface AdamwReferenceOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
  gradScale: number;
}

/** Magnitudes of the terms behind each value (m sums signed gradients: it can cancel). */
export interface AdamwScales {
  params: Float64Array;
  m: Float64Array;
}

/** Updates params, m, v (float64 arrays) in place, and `scales` along when given. */
export function adamwReference(params: Float64Array, grads: ArrayLike<number>, m: Float64Array, v: Float64Array,
  o: AdamwReferenceOptions, scales?: AdamwScales): void {
  const bias1 = 1 - o.beta1 ** o.step, bias2 = 1 - o.beta2 ** o.step;
  for (let i = 0; i < params.length; i++) {
    const g = grads[i] * o.gradScale;
    params[i] *= 1 - o.lr * o.weightDecay;
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
    const denominator = Math.sqrt(v[i]) / Math.sqrt(bias2) + o.eps;
    params[i] -= (o.lr / bias1) * m[i] / denominator;
    if (scales) {
      scales.m[i] = o.beta1 * scales.m[i] + (1 - o.beta1) * Math.abs(g);
      scales.params[i] = Math.abs(params[i]) + (o.lr / bias1) * scales.m[i] / denominator;
    }
  }
}

export function gradNormReference(grads: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < grads.length; i++) sum += grads[i] * grads[i];
  return Math.sqrt(sum);
}
