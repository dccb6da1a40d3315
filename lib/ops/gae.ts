// gae.ts: generalized advantage estimation for PPO with a critic (ALGORITHMS.md §1.8; TRL's legacy
// PPOTrainer): on masked rewards and values, with V_T = 0,
//   δ_t = r_t + γ·V_{t+1} − V_t,   Â_t = δ_t + γλ·Â_{t+1},   returns = Â + V  (0 on padding),
// then, by default, TRL's masked whitening of Â over the batch: (Â − mean)/sqrt(var + 1e-8), var
// Bessel-corrected over Σm (float64 statistics), 0 on padding. Returns use Â before whitening.
import { binding } from '../binding';
import { Tensor } from '../tensor';
import { callNative } from '../native_call';
import { checkBoolean, checkMask, checkMaskOnHost, checkNumber, checkOptionsObject, checkRowsTokens, checkShapeEquals, checkTensor, checkTensorsObject, commonDevice } from '../validate';

export interface GaeInputs {
  /** float32 [R,T]: per-token rewards (e.g. −β·KL plus the sequence score on the last token). */
  rewards: Tensor;
  /** float32 [R,T]: the critic's values V. */
  values: Tensor;
  /** float32 or uint8 [R,T], 0 or 1: 1 on generated tokens (rows of any length, right padding). */
  mask: Tensor;
}

export interface GaeOptions {
  /** γ ≥ 0, the discount. Default 1. */
  gamma?: number;
  /** λ ≥ 0, the GAE trace decay. Default 0.95. */
  lambda?: number;
  /** Whiten the advantages over the batch's valid tokens (TRL masked_whiten). Default true. */
  whiten?: boolean;
}

export interface GaeResult {
  /** float32 [R,T]: Â (whitened unless options.whiten is false), 0 on padding. */
  advantages: Tensor;
  /** float32 [R,T]: Â + V before whitening, 0 on padding: the value targets. */
  returns: Tensor;
}

export function gae(inputs: GaeInputs, options: GaeOptions = {}): GaeResult {
  checkTensorsObject('inputs', inputs, ['rewards', 'values', 'mask']);
  checkOptionsObject('options', options, ['gamma', 'lambda', 'whiten']);
  const [R, T] = checkRowsTokens('rewards', inputs.rewards);
  const rewards = inputs.rewards;
  const values = checkTensor('values', inputs.values, ['float32']);
  checkShapeEquals('values', values, [R, T]);
  const mask = checkMask(inputs.mask, [R, T]);
  const o = options ?? {};
  const gamma = checkNumber('options.gamma', o.gamma, 1, { min: 0 });
  const lambda = checkNumber('options.lambda', o.lambda, 0.95, { min: 0 });
  const whiten = checkBoolean('options.whiten', o.whiten, true);
  commonDevice({ rewards, values, mask });
  checkMaskOnHost(mask);
  const out = callNative(() => binding().gae(rewards._storage('rewards'), values._storage('values'), mask._storage('mask'), R, T,
    gamma, lambda, whiten));
  return { advantages: Tensor._wrap(out.advantages, [R, T], 'float32'), returns: Tensor._wrap(out.returns, [R, T], 'float32') };
}
