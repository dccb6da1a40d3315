// attention.h: causal scaled-dot-product attention with grouped-query heads (HF LlamaAttention's
// eager path: softmax(q k^T * scale + causal mask) v, head h reading key/value head h / (H/KVH)),
// for training (S = T) and for cached generation (a query block at the end of S keys).
//   query t of row b sits at key position S - T + t and attends to keys s with
//   kvStart[b] <= s <= S - T + t;   out = sum_s p_s v_s,  p = softmax_s(scale * q.k_s),
//   lse = log sum_s exp(scale * q.k_s)  (natural log; -inf and out = 0 when no key is valid).
// Backward (FlashAttention-2 algebra, all three gradients ACCUMULATED):
//   Di = dout_i . out_i,  dS_is = p_is (dout_i . v_s - Di),
//   dq_i += scale sum_s dS_is k_s,  dk_s += scale sum_i dS_is q_i,  dv_s += sum_i p_is dout_i.
// Numerics: fp32 online softmax over key blocks in base 2 (q pre-scaled by scale*log2 e).
// Work split: forward tasks are (b, kv head, query block), backward tasks are (b, kv head), and
// every output element is owned by one task that sums in a fixed order: bit-identical results for
// any thread count, no atomics.
#pragma once

#include <cstdint>

#include "../../include/steprl/attention.h"

namespace steprl::cpu {

void attention_forward_cpu(const AttentionForwardArgs& args);
void attention_backward_cpu(const AttentionBackwardArgs& args);

// Blocking shared by the SIMD implementations: a task stacks the queries of all heads of one kv
// head (columns c = (t - t0) * G + g, G = H / KVH) up to kAttentionColumns, and walks keys in
// blocks of kAttentionKeys.
constexpr int64_t kAttentionColumns = 64;
constexpr int64_t kAttentionKeys = 64;
inline int64_t attention_queries_per_block(const AttentionShape& s) {
  const int64_t G = s.H / s.KVH;
  return G >= kAttentionColumns ? 1 : kAttentionColumns / G;
}

// Per-task implementations. Forward task = (b, kv head, query block) in that order of
// significance; backward task = (b, kv head). The scalar ones are plain per-query loops.
void attention_forward_task_scalar(const AttentionForwardArgs& args, int64_t task);
void attention_forward_task_avx2(const AttentionForwardArgs& args, int64_t task);
void attention_forward_task_avx512(const AttentionForwardArgs& args, int64_t task);
void attention_backward_task_scalar(const AttentionBackwardArgs& args, int64_t task);
void attention_backward_task_avx2(const AttentionBackwardArgs& args, int64_t task);
void attention_backward_task_avx512(const AttentionBackwardArgs& args, int64_t task);

// 64-byte aligned scratch owned by the calling thread, valid until its next call (grow-only).
float* attention_scratch(int64_t floats);

}  // namespace steprl::cpu
