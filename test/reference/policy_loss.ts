// reference/policy_loss.ts: float64 plain loops, the executable spec of policyLoss (ALGORITHMS.md
// §1.1 ratio, §1.2 clipped surrogate and its active set, §1.3 KL via klElement, §1.4 aggregation
// weights, §1.7 objective), plus inputs that reach every branch. Each output comes with the sum
// of the magnitudes of its terms (`*Scale`): signed sums cancel, and float32 can only be accurate
// relative to the terms, not to their small difference.
import { klElement, type KlEstimatorName } from './kl_penalty';
import type { Rng } from '../util/random';

export type Aggregation = 'token-mean' | 'seq-mean-token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-sum-norm';
export type LossMode = 'clip' | 'gspo' | 'gspo-token' | 'cispo';
const MODE_DEFAULTS: Record<LossMode, [number, number]> = { clip: [0.2, 0.2], gspo: [3e-4, 4e-4], 'gspo-token': [3e-4, 4e-4], cispo: [1, 0.28] };

export interface PolicyLossCase {
  R: number;
  T: number;
  logprobs: Float32Array;
  oldLogprobs: Float32Array;
  refLogprobs?: Float32Array;
  advantages: Float32Array;
  mask: Float32Array | Uint8Array;
}

export interface PolicyLossReferenceOptions {
  mode?: LossMode;
  clipLow?: number;
  clipHigh?: number;
  dualClip?: number;
  klCoef?: number;
  klEstimator?: KlEstimatorName;
  aggregation?: Aggregation;
  maxLength?: number;
  tokenCount?: number;
  rowCount?: number;
  lossScale?: number;
}

export interface PolicyLossReference {
  loss: number;
  pgLoss: number;
  klLoss: number;
  clipFraction: number;
  kl: number;
  approxKl: number;
  dlogprobs: Float64Array;
  lossScale: number;
  pgLossScale: number;
  klLossScale: number;
  klScale: number;
  approxKlScale: number;
  dlogprobsScale: Float64Array;
}

export function policyLossReference(c: PolicyLossCase, o: PolicyLossReferenceOptions = {}): PolicyLossReference {
  const { R, T } = c;
  const mode = o.mode ?? 'clip';
  const low = 1 - (o.clipLow ?? MODE_DEFAULTS[mode][0]), high = 1 + (o.clipHigh ?? MODE_DEFAULTS[mode][1]), dual = o.dualClip ?? Infinity;
  const beta = o.klCoef ?? 0, s = o.lossScale ?? 1, N = o.rowCount ?? R, aggregation = o.aggregation ?? 'token-mean';
  const rowTokens = new Float64Array(R);
  let tokens = 0;
  for (let i = 0; i < R; i++) for (let t = 0; t < T; t++) if (c.mask[i * T + t] !== 0) rowTokens[i]++;
  for (let i = 0; i < R; i++) tokens += rowTokens[i];
  const weight = (i: number): number => {
    switch (aggregation) {
      case 'token-mean': { const total = o.tokenCount ?? tokens; return total > 0 ? 1 / total : 0; }
      case 'seq-mean-token-mean': return rowTokens[i] > 0 ? 1 / (N * rowTokens[i]) : 0;
      case 'seq-mean-token-sum': return 1 / N;
      case 'seq-mean-token-sum-norm': return 1 / (N * (o.maxLength ?? T));
    }
  };
  const out: PolicyLossReference = {
    loss: 0, pgLoss: 0, klLoss: 0, clipFraction: 0, kl: 0, approxKl: 0, dlogprobs: new Float64Array(R * T),
    lossScale: 0, pgLossScale: 0, klLossScale: 0, klScale: 0, approxKlScale: 0, dlogprobsScale: new Float64Array(R * T),
  };
  let clipped = 0;
  for (let i = 0; i < R; i++) {
    const w = s * weight(i);
    // GSPO's sequence ratio: s_i = exp(clamp(mean over the row's tokens of ℓ − ℓold, ±20)).
    let seqLog = 0;
    if (rowTokens[i] > 0) for (let t = 0; t < T; t++) if (c.mask[i * T + t] !== 0) seqLog += c.logprobs[i * T + t] - c.oldLogprobs[i * T + t];
    seqLog = rowTokens[i] > 0 ? seqLog / rowTokens[i] : 0;
    const seqRatio = Math.exp(Math.min(Math.max(seqLog, -20), 20));
    let rowG = 0, rowGScale = 0;  // gspo: Σ_u gψ, shared by the row's tokens through s_i
    for (let t = 0; t < T; t++) {
      const j = i * T + t;
      if (c.mask[j] === 0) continue;
      const l = c.logprobs[j], old = c.oldLogprobs[j], A = c.advantages[j];
      const d = l - old;
      const rho = Math.exp(Math.min(Math.max(d, -20), 20));
      let psi: number, gPsi: number;
      if (mode === 'clip') {
        psi = Math.max(-A * rho, -A * Math.min(Math.max(rho, low), high));
        if (A < 0) psi = Math.min(psi, -A * dual);
        const active = (A > 0 && rho <= high) || (A < 0 && rho >= low && rho <= dual);
        const unclipped = active && Math.abs(d) <= 20;
        gPsi = unclipped ? -A * rho : 0;
        if (A !== 0 && !unclipped) clipped++;
      } else if (mode === 'cispo') {
        const weightIs = Math.min(Math.max(rho, low), high);
        psi = -weightIs * A * l;
        gPsi = -weightIs * A;
        if (A !== 0 && weightIs !== rho) clipped++;
      } else {
        psi = Math.max(-A * seqRatio, -A * Math.min(Math.max(seqRatio, low), high));
        const active = (A > 0 && seqRatio <= high) || (A < 0 && seqRatio >= low);
        const unclipped = active && Math.abs(seqLog) <= 20;
        gPsi = unclipped ? -A * seqRatio : 0;
        if (A !== 0 && !unclipped) clipped++;
        if (mode === 'gspo') {
          rowG += gPsi;
          rowGScale += Math.abs(gPsi);
          gPsi = 0;
        }
      }
      let kappa = 0, dKappa = 0;
      if (c.refLogprobs) ({ kl: kappa, dkl: dKappa } = klElement(o.klEstimator ?? 'k3', l, c.refLogprobs[j]));
      out.pgLoss += w * psi;
      out.klLoss += w * beta * kappa;
      out.dlogprobs[j] = w * (gPsi + beta * dKappa);
      out.dlogprobsScale[j] = Math.abs(w) * (Math.abs(gPsi) + Math.abs(beta * dKappa));
      out.pgLossScale += Math.abs(w * psi);
      out.klLossScale += Math.abs(w * beta * kappa);
      out.kl += kappa;
      out.klScale += Math.abs(kappa);
      out.approxKl += old - l;
      out.approxKlScale += Math.abs(old - l);
    }
    if (mode === 'gspo' && rowTokens[i] > 0)
      for (let t = 0; t < T; t++) {
        const j = i * T + t;
        if (c.mask[j] === 0) continue;
        out.dlogprobs[j] += (w * rowG) / rowTokens[i];
        out.dlogprobsScale[j] += (Math.abs(w) * rowGScale) / rowTokens[i];
      }
  }
  out.loss = out.pgLoss + out.klLoss;
  out.lossScale = out.pgLossScale + out.klLossScale;
  if (tokens > 0) {
    out.clipFraction = clipped / tokens;
    for (const key of ['kl', 'klScale', 'approxKl', 'approxKlScale'] as const) out[key] /= tokens;
  }
  return out;
}

export interface PolicyInputOptions {
  /** rows with no tokens at all */
  emptyRows?: boolean;
  /** NaN log-probs and advantages on padding (they must not leak) */
  nanPadding?: boolean;
  /** spread of ℓ − ℓold (0.15 keeps most ratios near the clip range) */
  ratioSpread?: number;
}

/**
 * GRPO-like inputs: right-padded masks of random length, per-row advantages (some exactly 0)
 * with per-token noise on odd rows, ratios around the clip range with a few beyond the ±20
 * clamp, and ℓref spanning every KL regime. Ratios within 1e-4 of a clip boundary and k3 values
 * within 1e-4 of its clamp are nudged away, so float32 and float64 take the same branches.
 */
export function makePolicyInputs(rng: Rng, R: number, T: number, opts: PolicyInputOptions = {}): PolicyLossCase {
  const n = R * T, spread = opts.ratioSpread ?? 0.15;
  const logprobs = new Float32Array(n), oldLogprobs = new Float32Array(n), refLogprobs = new Float32Array(n);
  const advantages = new Float32Array(n), mask = new Float32Array(n);
  const boundaries = [0.8, 1.2, 0.72, 1.28, 3];
  for (let i = 0; i < R; i++) {
    const length = opts.emptyRows && i % 5 === 1 ? 0 : rng.int(1, T + 1);
    const rowA = i % 7 === 3 ? 0 : rng.normal();
    for (let t = 0; t < T; t++) {
      const j = i * T + t;
      const l = -Math.abs(rng.normal()) * 3;
      const kind = rng.int(0, 100);
      let d = kind < 2 ? (rng.next() < 0.5 ? -1 : 1) * rng.uniform(20.5, 30) : kind < 10 ? 0 : kind < 30 ? rng.normal() : rng.normal() * spread;
      const rho = Math.exp(d);
      if (boundaries.some((b) => Math.abs(rho - b) < 1e-4 * b)) d += 1e-3;
      logprobs[j] = l;
      oldLogprobs[j] = l - d;
      let dRef = rng.int(0, 4) === 0 ? rng.normal() * 1e-3 : rng.normal() * 2;
      const k3 = Math.expm1(dRef) - dRef;
      if (Math.abs(k3 - 10) < 1e-3) dRef += 1e-2;
      refLogprobs[j] = l + dRef;
      advantages[j] = i % 2 === 1 && rowA !== 0 ? rowA + 0.3 * rng.normal() : rowA;
      mask[j] = t < length ? 1 : 0;
      if (t >= length && opts.nanPadding) {
        logprobs[j] = NaN;
        advantages[j] = NaN;
      }
    }
  }
  return { R, T, logprobs, oldLogprobs, refLogprobs, advantages, mask };
}

/**
 * Inputs for the sequence-ratio modes: each row's ℓ − ℓold is a row offset μ_i plus zero-mean noise,
 * μ_i from 0 (on-policy), inside and beyond GSPO's 3e-4/4e-4 range, ~0.1, and beyond the ±20 clamp;
 * a row whose s_i lies within 2e-6 of a clip boundary is moved, so float32 and float64 agree on the branch.
 */
export function makeSequenceInputs(rng: Rng, R: number, T: number, opts: PolicyInputOptions = {}): PolicyLossCase {
  const c = makePolicyInputs(rng, R, T, opts);
  const boundaries = [1 - 3e-4, 1 + 4e-4, 0.8, 1.2];
  for (let i = 0; i < R; i++) {
    const kind = i % 6;
    let mu = kind === 0 ? 0 : kind === 1 ? rng.uniform(-6e-4, 6e-4) : kind === 2 ? rng.normal() * 1e-4
      : kind === 3 ? rng.normal() * 0.1 : kind === 4 ? (rng.next() < 0.5 ? -1 : 1) * rng.uniform(21, 25) : rng.normal() * 0.3;
    if (boundaries.some((b) => Math.abs(Math.exp(mu) - b) < 2e-6)) mu += 1e-5;
    let length = 0;
    for (let t = 0; t < T; t++) if (c.mask[i * T + t] !== 0) length++;
    // zero-mean noise over the row's valid tokens, so the row's mean log-ratio is μ up to rounding
    const noise = new Float64Array(length);
    let mean = 0;
    for (let t = 0; t < length; t++) { noise[t] = kind === 0 ? 0 : rng.normal() * (kind === 1 || kind === 2 ? 1e-5 : 0.05); mean += noise[t]; }
    mean = length > 0 ? mean / length : 0;
    for (let t = 0; t < T; t++) {
      const j = i * T + t;
      const l = c.logprobs[j];
      if (Number.isNaN(l)) continue;
      c.oldLogprobs[j] = l - (mu + (t < length ? noise[t] - mean : 0));
    }
  }
  return c;
}
