// reference/token_logprobs.ts: float64 plain loops, the executable spec of tokenLogprobs
// (ALGORITHMS.md §0 chain rule, §1.9 entropy). Terms with probability 0 (logit -inf) add 0 to
// the entropy, as torch.distributions.Categorical defines it.
export interface LogprobsReference {
  logprobs: Float64Array;
  logZ: Float64Array;
  entropy: Float64Array;
  /** magnitudes of the terms each output is computed from (see test/util/close.ts) */
  logprobsScale: Float64Array;
  entropyScale: Float64Array;
}

export function tokenLogprobsReference(
  logits: ArrayLike<number>, targets: ArrayLike<number>, R: number, V: number, temperature = 1,
): LogprobsReference {
  const logprobs = new Float64Array(R), logZ = new Float64Array(R), entropy = new Float64Array(R);
  const logprobsScale = new Float64Array(R), entropyScale = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[r * V + v] / temperature);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[r * V + v] / temperature - max);
    const z = max + Math.log(sum);
    let h = 0, hScale = 0;
    for (let v = 0; v < V; v++) {
      const y = logits[r * V + v] / temperature;
      const p = Math.exp(y - z);
      if (p > 0) {
        h -= p * (y - z);
        hScale += p * (Math.abs(y) + Math.abs(z));
      }
    }
    logZ[r] = z;
    const target = logits[r * V + targets[r]] / temperature;
    logprobs[r] = target - z;
    logprobsScale[r] = Math.abs(target) + Math.abs(z);
    entropy[r] = h;
    entropyScale[r] = hScale;
  }
  return { logprobs, logZ, entropy, logprobsScale, entropyScale };
}

/** d(sum g*logprob + gH*entropy)/dlogits, and the magnitude of the terms of each element. */
export function tokenLogprobsBackwardReference(
  logits: ArrayLike<number>, targets: ArrayLike<number>, dlogprobs: ArrayLike<number>,
  dentropy: ArrayLike<number> | null, R: number, V: number, temperature = 1,
): { dlogits: Float64Array; scale: Float64Array } {
  const { logZ, entropy } = tokenLogprobsReference(logits, targets, R, V, temperature);
  const dlogits = new Float64Array(R * V), scale = new Float64Array(R * V);
  for (let r = 0; r < R; r++) {
    const g = dlogprobs[r], gh = dentropy ? dentropy[r] : 0;
    for (let v = 0; v < V; v++) {
      const y = logits[r * V + v] / temperature;
      const p = Math.exp(y - logZ[r]);
      const dh = p > 0 ? -p * (y - logZ[r] + entropy[r]) : 0;
      dlogits[r * V + v] = (g * ((v === targets[r] ? 1 : 0) - p) + gh * dh) / temperature;
      const magnitude = Math.abs(g) * ((v === targets[r] ? 1 : 0) + p) +
        (p > 0 ? Math.abs(gh) * p * (Math.abs(y) + Math.abs(logZ[r]) + Math.abs(entropy[r])) : 0);
      scale[r * V + v] = magnitude / temperature;
    }
  }
  return { dlogits, scale };
}
