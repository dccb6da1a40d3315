// precision.ts: TinyLM's `precision` option and its check against the device. 'fp32' computes in
// float32 throughout; 'bf16-mixed' (cuda only) feeds every GEMM and attention bfloat16 operands with
// fp32 accumulation and keeps float32 master weights, gradients and AdamW moments (see tinylm.ts's
// header and README "Mixed precision" for why no loss scaling is needed).
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
