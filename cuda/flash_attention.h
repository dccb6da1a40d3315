// flash_attention.h: launchers of the bf16 attention kernels (cuda/flash_attention.cu, the forward;
// cuda/flash_attention_backward.cu, the backward), callable from host code that includes no CUDA
// header (native/ops/attention.cc). Semantics of cuda/attention.h
// (causal GQA with a KV cache, kvStart left padding, out = 0 and lse = -inf without a valid key),
// with q, k, v (and dout) bfloat16 (raw bits) and out, lse and the gradients float32.
//   forward   FlashAttention-2 on tensor cores (mma.sync m16n8k16 bf16, fp32 accumulation, fp32
//             online-softmax statistics, P rounded to bf16 before P v)
//   backward  the same, FA2's recomputation from lse: Di = dout . out, then dk/dv per key tile and
//             dq per query tile in two passes (no atomics: the same bits on every run)
// when D % 8 == 0, D <= 128 and q, k, v (and dout) are 16-byte aligned; otherwise they are widened
// exactly to fp32 on the device and cuda/attention.cu's fp32 kernels run (head sizes up to 256).
// The launchers only queue kernels (and allocate the widened copies from the caching allocator).
#pragma once

#include <cstdint>

#include "../include/steprl/attention.h"

namespace steprl::cuda {

// The largest head size the tensor-core forward runs itself (larger heads take the widened path).
constexpr int64_t kFlashAttentionMaxHeadDim = 128;

void attention_bf16_forward_cuda(const AttentionBf16ForwardArgs& args);
void attention_bf16_backward_cuda(const AttentionBf16BackwardArgs& args);

}  // namespace steprl::cuda
