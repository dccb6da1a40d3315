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

namespace steprl::cuda {

struct AttentionShape {
  int64_t B, T, H, KVH, D;
  int64_t S;     // keys in use (kvLength), T <= S <= Smax
  int64_t Smax;  // key rows per batch row in k/v
  float scale;
};

struct AttentionForwardArgs {
  float* out;               // [B,T,H,D]
  float* lse;               // [B,H,T]
  const float* q;           // [B,T,H,D]
  const float* k;           // [B,Smax,KVH,D]
  const float* v;           // [B,Smax,KVH,D]
  const int32_t* kv_start;  // [B] in [0, S] (checked by the caller), or nullptr (all 0)
  AttentionShape shape;
};

struct AttentionBackwardArgs {
  float* dq;                // [B,T,H,D]      +=
  float* dk;                // [B,Smax,KVH,D] +=
  float* dv;                // [B,Smax,KVH,D] +=
  const float* dout;        // [B,T,H,D]
  const float* out;         // [B,T,H,D]
  const float* lse;         // [B,H,T]
  const float* q;           // [B,T,H,D]
  const float* k;           // [B,Smax,KVH,D]
  const float* v;           // [B,Smax,KVH,D]
  const int32_t* kv_start;  // [B] or nullptr
  AttentionShape shape;
};

constexpr int64_t kAttentionMaxHeadDim = 256;

void attention_forward_cuda(const AttentionForwardArgs& args);
void attention_backward_cuda(const AttentionBackwardArgs& args);

}  // namespace steprl::cuda
