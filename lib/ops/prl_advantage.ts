// prl_advantage.ts: PRL (Process Reward Learning) token advantages (ALGORITHMS.md §4.3):
//   d = m·(ℓold − ℓref),  S[t] = Σ_{t' ≥ t} d[t'] (reverse scan, float64),  E = stepEnds ∪ {L − 1},
//   v[e] = Â − S[e]/η ('inclusive') or Â − S[e+1]/η ('next_step'),  A[t] = v[min{e ∈ E : e ≥ t}]·m.
// mode 'token' makes every valid token a step end (A = Â − S/η per token). The outcome advantages
// Â are an input (GRPO's §1.5 for G > 1; the raw reward for G = 1, as the reference does).
import { binding } from '../binding';
import { PRL_MODE_NAMES, PRL_SUFFIX_START_NAMES, type PrlModeName, type PrlSuffixStartName } from '../native';
import { ShapeError } from '../errors';
import { Tensor } from '../tensor';
import { callNative } from '../native_call';
import { checkEnum, checkMask, checkMaskOnHost, checkNumber, checkOptionsObject, checkRowsTokens, checkShapeEquals, checkTensor, checkTensorsObject, checkVector, commonDevice, optionalTensor } from '../validate';

export interface PrlAdvantagesInputs {
  /** float32 [R]: Â_i, each row's outcome advantage. */
  outcomeAdvantages: Tensor;
  /** float32 [R,T]: ℓold, log-probs of the sampled tokens under the rollout policy. */
  oldLogprobs: Tensor;
  /** float32 [R,T]: ℓref under the frozen reference. */
  refLogprobs: Tensor;
  /** float32 or uint8 [R,T], 0 or 1: 1 on generated tokens (right padding). */
  mask: Tensor;
  /**
   * uint8 [R,T]: non-zero on the last token of each step (from a step splitter; L − 1 is always a
   * step end). Required in 'step' mode, unused in 'token' mode.
   */
  stepEnds?: Tensor;
}

export interface PrlAdvantagesOptions {
  /** η > 0: the KL regularization strength of PRL's objective; the log-ratio enters as 1/η. Default 200. */
  eta?: number;
  /** 'step' (the repo's prm.adv=orm, default) or 'token' (prm.adv=prm: every token is its own step). */
  mode?: PrlModeName;
  /** Whether the suffix at a step end e starts at e ('inclusive', the code's choice, default) or e + 1. */
  suffixStart?: PrlSuffixStartName;
}

const INPUTS = ['outcomeAdvantages', 'oldLogprobs', 'refLogprobs', 'mask', 'stepEnds'];

/** PRL advantages, float32 [R,T], 0 where the mask is 0. */
export function prlAdvantages(inputs: PrlAdvantagesInputs, options: PrlAdvantagesOptions = {}): Tensor {
  checkTensorsObject('inputs', inputs, INPUTS);
  checkOptionsObject('options', options, ['eta', 'mode', 'suffixStart']);
  const [R, T] = checkRowsTokens('oldLogprobs', inputs.oldLogprobs);
  const old = inputs.oldLogprobs;
  const ref = checkTensor('refLogprobs', inputs.refLogprobs, ['float32']);
  checkShapeEquals('refLogprobs', ref, [R, T]);
  const outcome = checkVector('outcomeAdvantages', inputs.outcomeAdvantages, 'float32', R, 'R, one per row');
  const mask = checkMask(inputs.mask, [R, T]);
  const o = options ?? {};
  const eta = checkNumber('options.eta', o.eta, 200, { above: 0 });
  const mode = checkEnum('options.mode', o.mode, PRL_MODE_NAMES, 'step');
  const suffixStart = checkEnum('options.suffixStart', o.suffixStart, PRL_SUFFIX_START_NAMES, 'inclusive');
  const stepEnds = optionalTensor('stepEnds', inputs.stepEnds, ['uint8']);
  if (stepEnds) checkShapeEquals('stepEnds', stepEnds, [R, T]);
  else if (mode === 'step')
    throw new ShapeError('stepEnds', `Expected a uint8 Tensor [${R}, ${T}] for stepEnds in 'step' mode but received undefined`);
  commonDevice({ outcomeAdvantages: outcome, oldLogprobs: old, refLogprobs: ref, mask, stepEnds });
  checkMaskOnHost(mask);
  const out = callNative(() => binding().prlAdvantages(
    outcome._storage('outcomeAdvantages'), old._storage('oldLogprobs'), ref._storage('refLogprobs'), mask._storage('mask'),
    stepEnds?._storage('stepEnds') ?? null, R, T, eta, mode, suffixStart));
  return Tensor._wrap(out, [R, T], 'float32');
}
