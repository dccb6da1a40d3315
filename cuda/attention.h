// attention.h: launchers of the causal GQA attention CUDA kernels (cuda/attention.cu), callable from
// host code that includes no CUDA header (native/ops/attention.cc). Semantics of
// native/cpu/attention.h (HF LlamaAttention eager):
//   query t of row b sits at key position S - T + t and attends to keys kvStart[b] <= s <= S - T + t;
//   out = sum_s p_s v_s, p = softmax_s(scale q.k_s), lse = log sum_s exp(scale q.k_s)
//   (out = 0, lse = -inf without a valid key); head h reads kv head h / (H / KVH).
// Backward (all ACCUMULATED): Di = dout_i . out_i, dS = P (dout . v - Di),
//   dq += scale dS k,  dk += scale dS^T q,  dv += P^T dout        (rows s >= kvLength untouched)
// Head sizes up to kAttentionMaxHeadDim (the kernels keep tiles of whole heads in shared memory);
// on GPUs with 99 KiB of shared memory per block (sm_86, sm_89) only up to 128: larger heads throw
// ArgumentError naming the device's limit (asked at run time) before anything is launched.
#pragma once

#include <cstdint>

#include "../include/steprl/attention.h"

namespace steprl::cuda {

constexpr int64_t kAttentionMaxHeadDim = 256;

void attention_forward_cuda(const AttentionForwardArgs& args);
void attention_backward_cuda(const AttentionBackwardArgs& args);

}  // namespace steprl::cuda
