// reference/linear_token_logprobs.ts: float64 plain loops, the executable spec of
// linearTokenLogprobs: logits z = h · Wᵀ in float64, then tokenLogprobs' reference on them; the
// backward is the chain rule through the product (dh = dz · W, dW = dzᵀ · h). Scales are the
// magnitudes of the terms each output is summed from (see test/util/close.ts).
import { tokenLogprobsBackwardReference, tokenLogprobsReference } from './token_logprobs';

export interface LinearInputs {
  hidden: ArrayLike<number>;   // [M, C]
  weight: ArrayLike<number>;   // [V, C]
  targets: ArrayLike<number>;  // [N]
  rows?: ArrayLike<number>;    // [N] row of hidden per token (default: token i is row i)
  N: number;
  C: number;
  V: number;
  temperature?: number;
}

/** z [N, V] = h[rows] · Wᵀ and |h|·|W| per element. */
function logits64(x: LinearInputs): { z: Float64Array; zAbs: Float64Array } {
  const z = new Float64Array(x.N * x.V), zAbs = new Float64Array(x.N * x.V);
  for (let n = 0; n < x.N; n++) {
    const r = x.rows ? x.rows[n] : n;
    for (let v = 0; v < x.V; v++) {
      let s = 0, a = 0;
      for (let c = 0; c < x.C; c++) {
        const p = x.hidden[r * x.C + c] * x.weight[v * x.C + c];
        s += p;
        a += Math.abs(p);
      }
      z[n * x.V + v] = s;
      zAbs[n * x.V + v] = a;
    }
  }
  return { z, zAbs };
}

function rowMax(a: Float64Array, n: number, V: number): number {
  let m = 0;
  for (let v = 0; v < V; v++) m = Math.max(m, a[n * V + v]);
  return m;
}

export function linearTokenLogprobsReference(x: LinearInputs) {
  const tau = x.temperature ?? 1;
  const { z, zAbs } = logits64(x);
  const ref = tokenLogprobsReference(z, x.targets, x.N, x.V, tau);
  // float32 logits are off by ~eps·|h|·|W|: every output can be only that accurate.
  for (let n = 0; n < x.N; n++) {
    const zs = rowMax(zAbs, n, x.V) / tau;
    ref.logprobsScale[n] += 2 * zs;
    ref.entropyScale[n] += 2 * zs;
  }
  return ref;
}

/** dhidden [M, C] (rows not addressed stay 0) and dweight [V, C] of Σ g·logprob + gH·entropy. */
export function linearTokenLogprobsBackwardReference(
  x: LinearInputs & { M: number }, dlogprobs: ArrayLike<number>, dentropy: ArrayLike<number> | null,
) {
  const tau = x.temperature ?? 1;
  const { z, zAbs } = logits64(x);
  const { dlogits, scale } = tokenLogprobsBackwardReference(z, x.targets, dlogprobs, dentropy, x.N, x.V, tau);
  // A logit's float32 error eps·|z| moves dz by about |dz| (relative to p's change): widen its scale.
  const dzScale = new Float64Array(x.N * x.V);
  for (let i = 0; i < x.N * x.V; i++) dzScale[i] = Math.abs(dlogits[i]) + scale[i] * (1 + zAbs[i] / tau);
  const dhidden = new Float64Array(x.M * x.C), dhiddenScale = new Float64Array(x.M * x.C);
  const dweight = new Float64Array(x.V * x.C), dweightScale = new Float64Array(x.V * x.C);
  for (let n = 0; n < x.N; n++) {
    const r = x.rows ? x.rows[n] : n;
    for (let v = 0; v < x.V; v++) {
      const d = dlogits[n * x.V + v], ds = dzScale[n * x.V + v];
      for (let c = 0; c < x.C; c++) {
        const w = x.weight[v * x.C + c], h = x.hidden[r * x.C + c];
        dhidden[r * x.C + c] += d * w;
        dhiddenScale[r * x.C + c] += ds * Math.abs(w);
        dweight[v * x.C + c] += d * h;
        dweightScale[v * x.C + c] += ds * Math.abs(h);
      }
    }
  }
  return { dhidden, dhiddenScale, dweight, dweightScale };
}
