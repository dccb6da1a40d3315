// precision.ts: TinyLM's `precision` option and its check against the device. 'fp32' computes in
// float32 throughout. 'bf16-mixed' (cuda only): the float32 buffers stay the master weights and
// gradients (AdamW's moments too); a bf16 copy of the weight buffer, refreshed before the first
// forward after they change (Parameter.onUpdate, loadWeightsFrom, markWeightsChanged()), feeds every GEMM of a forward and
// backward with fp32 accumulation (transformer.ts), and generate() decodes the same way (generate.ts:
// a bfloat16 KV cache into bf16 FlashAttention, float32 logits). No loss scaling: bf16 keeps fp32's
// 8-bit exponent, so gradients neither underflow nor overflow sooner (README "Mixed precision").
import { ArgumentError } from '../errors';
import type { Device } from '../tensor';

/**
 * How a TinyLM computes. 'fp32': float32 throughout. 'bf16-mixed' (device 'cuda' only): bf16
 * weights and activations into every matmul (tensor-core GEMMs, fp32 accumulation; the lm_head
 * too, through linearTokenLogprobs on the hidden-state path) and bf16 q/k/v into attention
 * (FlashAttention-2 on tensor cores, fp32 softmax statistics), float32 for everything else: the
 * master weights AdamW updates, gradients, AdamW moments, the residual stream, RMSNorm, RoPE,
 * softmax and log-probs. No loss scaling is needed or done (bf16 has fp32's exponent range).
 * Costs 2 bytes per parameter for the bf16 weight copy and 2 bytes per token per layer per GEMM
 * or attention input (C + C + H·D + F, plus (H + 2·KVH)·D) for the bf16 activations. generate()
 * decodes the same way and keeps its KV cache in bfloat16: half the fp32 cache's bytes. Default 'fp32'.
 */
export type Precision = 'fp32' | 'bf16-mixed';
const PRECISIONS: readonly Precision[] = ['fp32', 'bf16-mixed'];

/** The precision option, checked against the device: 'bf16-mixed' needs cuda (the cpu keeps fp32). */
export function checkPrecision(argument: string, value: unknown, device: Device): Precision {
  if (value === undefined) return 'fp32';
  if (!PRECISIONS.includes(value as Precision)) throw ArgumentError.expected(argument, `one of ${PRECISIONS.map((p) => `'${p}'`).join(', ')}`, value);
  if (value === 'bf16-mixed' && device !== 'cuda')
    throw new ArgumentError(argument, `Expected 'fp32' for ${argument} on device '${device}' ('bf16-mixed' runs on 'cuda' only: the cpu GEMMs would widen bf16 back to fp32, so it saves nothing there) but received 'bf16-mixed'`);
  return value as Precision;
}
