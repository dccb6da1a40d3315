// prl_eta.ts: PRL's η chosen from the data (issue 16; the rule and its reason are in
// docs/ALGORITHMS-notes.md). PRL's process term at a token is S/η, S the k1 log-ratio
// Σ (ℓold − ℓref) over the rest of the response (from the token's step end). Its size next to the
// outcome advantage is ratio = E|S| / (η·E|Â|), so the η that puts it at a target ratio ρ* is
//   η = E|S| / (ρ*·E|Â|),
// with E|S| and E|Â| measured over the response tokens of a run of the same budget on the same
// task (GRPO's: it computes ℓref for its KL term, and PRL with a small process term follows it).
// Without such a run, a first-order estimate E|S| ≈ κ·L/2 (per-token KL κ, mean response length L)
// stands in; it ignores the log-ratio's token-to-token fluctuation, which makes |S| larger.
// The paper's η = 200 was set for responses of thousands of tokens; on the embedded tasks (L of
// 26-75 tokens) it gives ratios of 1e-3 and below, i.e. GRPO.
import { ArgumentError } from '../errors';

export interface EtaInputs {
  /** Mean |S| over response tokens (signal.ts suffixLogRatioAbs), measured; or estimated from length and KL. */
  suffixAbs?: number;
  meanLength?: number;
  klPerToken?: number;
  /** Mean |Â| of the outcome advantage over response tokens (GRPO's advantageAbsMean). */
  outcomeAbs: number;
  /** Target size of the process term against the outcome advantage. Default 0.25. */
  targetRatio?: number;
}

export const DEFAULT_TARGET_RATIO = 0.25;

function check(name: string, value: number | undefined): number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) throw ArgumentError.expected(name, 'a finite number > 0', value);
  return value;
}

/** E|S|: the measured value, or κ·L/2 when only length and KL are given. */
export function suffixEstimate(inputs: Pick<EtaInputs, 'suffixAbs' | 'meanLength' | 'klPerToken'>): number {
  if (inputs.suffixAbs !== undefined) return check('suffixAbs', inputs.suffixAbs);
  return (check('klPerToken', inputs.klPerToken) * check('meanLength', inputs.meanLength)) / 2;
}

export function prlEta(inputs: EtaInputs): number {
  const target = check('targetRatio', inputs.targetRatio ?? DEFAULT_TARGET_RATIO);
  return suffixEstimate(inputs) / (target * check('outcomeAbs', inputs.outcomeAbs));
}

/** The ratio a given η gives (the inverse of prlEta), for reporting. */
export function prlRatio(eta: number, inputs: Omit<EtaInputs, 'targetRatio'>): number {
  return suffixEstimate(inputs) / (check('eta', eta) * check('outcomeAbs', inputs.outcomeAbs));
}
