// reference/kl_penalty.ts: float64 plain loops, the executable spec of klPenalty (ALGORITHMS.md
// §1.3). With d = ref − ℓ: k1 = −d, k2 = d²/2, abs = |d|, and k3 = expm1(dc) − dc with
// dc = clamp(d, −20, 20), clamped to [−10, 10], gradient −expm1(dc) except where a clamp acts
// (strictly outside its range, as torch.clamp's gradient); k3+ = k3's value with k2's gradient.
import type { Rng } from '../util/random';

export type KlEstimatorName = 'k1' | 'k2' | 'k3' | 'k3+' | 'abs';

/** κ and ∂κ/∂ℓ for one token, in float64. */
export function klElement(estimator: KlEstimatorName, logprob: number, ref: number): { kl: number; dkl: number } {
  const d = ref - logprob;
  switch (estimator) {
    case 'k1': return { kl: -d, dkl: 1 };
    case 'k2': return { kl: 0.5 * d * d, dkl: -d };
    case 'abs': return { kl: Math.abs(d), dkl: d > 0 ? -1 : d < 0 ? 1 : 0 };
    default: {
      const dc = Math.min(Math.max(d, -20), 20);
      const value = Math.expm1(dc) - dc;
      const kl = Math.min(Math.max(value, -10), 10);
      if (estimator === 'k3+') return { kl, dkl: -d };
      const clamped = Math.abs(d) > 20 || Math.abs(value) > 10;
      return { kl, dkl: clamped ? 0 : -Math.expm1(dc) };
    }
  }
}

export function klPenaltyReference(
  logprobs: ArrayLike<number>, refLogprobs: ArrayLike<number>, estimator: KlEstimatorName,
): { kl: Float64Array; dkl: Float64Array } {
  const n = logprobs.length;
  const kl = new Float64Array(n), dkl = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const e = klElement(estimator, logprobs[i], refLogprobs[i]);
    kl[i] = e.kl;
    dkl[i] = e.dkl;
  }
  return { kl, dkl };
}

/** Log-probs and reference log-probs whose differences span every regime of the estimators. */
export function makeKlInputs(rng: Rng, n: number): { logprobs: Float32Array; ref: Float32Array } {
  const logprobs = new Float32Array(n), ref = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const l = -Math.abs(rng.normal()) * 4;
    const kind = rng.int(0, 8);
    const d = kind === 0 ? rng.normal() * 1e-6
      : kind === 1 ? rng.normal() * 1e-3
      : kind === 2 ? rng.normal() * 0.3
      : kind === 3 ? rng.uniform(-0.6, 0.6)
      : kind === 4 ? rng.normal() * 4
      : kind === 5 ? (rng.next() < 0.5 ? -1 : 1) * rng.uniform(19, 30)
      : kind === 6 ? 0
      : rng.normal();
    logprobs[i] = l;
    ref[i] = l + d;
  }
  return { logprobs, ref };
}
