// cross_entropy.ts: masked next-token cross-entropy for supervised training, on the token-logprob
// kernels: loss = −Σ m·logprob / Σ m, and dlogits = tokenLogprobsBackward with dlogprobs = −m/Σm.
// No [N, V] temporary beyond the gradient itself.
import { ArgumentError, ShapeError } from '../errors';
import { Tensor } from '../tensor';
import { tokenLogprobs, tokenLogprobsBackward } from './token_logprobs';
import { checkOptionsObject, checkTensor } from '../validate';

export interface CrossEntropyResult {
  /** Mean negative log-likelihood over masked positions (0 when the mask is empty). */
  loss: number;
  /** Masked positions counted. */
  tokens: number;
  /** float32 [N, V]: d(loss)/d(logits), 0 on unmasked rows. */
  dlogits: Tensor;
}

/** logits float32 [N, V], targets int32 [N], mask float32 [N] (0/1) -> loss and its gradient. */
export function crossEntropy(logits: Tensor, targets: Tensor, mask: Tensor, options: { out?: Tensor } = {}): CrossEntropyResult {
  checkOptionsObject('options', options, ['out']);
  const l = checkTensor('logits', logits, ['float32', 'bfloat16']);
  const m = checkTensor('mask', mask, ['float32']);
  if (m.numel !== targets.numel) throw new ShapeError('mask', `Expected ${targets.numel} mask values (one per target) but received ${m.numel}`);
  const weights = m.toArray() as Float32Array;
  let count = 0;
  for (const w of weights) {
    if (w !== 0 && w !== 1) throw ArgumentError.expected('mask', 'values 0 or 1', w);
    count += w;
  }
  const { logprobs, logZ } = tokenLogprobs(l, targets);
  const lp = logprobs.toArray() as Float32Array;
  let total = 0;
  const dlogprobs = new Float32Array(weights.length);
  for (let i = 0; i < weights.length; i++) {
    if (weights[i] === 0) continue;
    total -= lp[i];
    dlogprobs[i] = -1 / count;
  }
  const dlogits = tokenLogprobsBackward(l, targets, logZ, Tensor.from(dlogprobs, logprobs.shape, { device: l.device }), { out: options.out });
  logprobs.dispose();
  logZ.dispose();
  return { loss: count > 0 ? total / count : 0, tokens: count, dlogits };
}
