// linear_logprobs.h: token log-probabilities straight from hidden states and the output
// projection, without ever holding the [N,V] logits ("Cut Your Losses in Large-Vocabulary
// Language Models", arXiv 2411.09009; Liger's fused linear cross-entropy).
//
//   z = h . W^T  (h = hidden rows [N,C], W [V,C]),  y = z/tau,  logZ = logsumexp_v y_v,
//   logprob = y[target] - logZ,  H = -sum_v p_v log p_v,  p = softmax(y)
//
// Rows are taken in blocks of kLinearRowBlock, the vocabulary in chunks of `chunk` columns; one
// [rows, chunk] tile of logits exists at a time (the sgemm of cpu/matmul.h writes it).
// Forward: each tile's per-row logsumexp and entropy (the token_logprobs row kernels) are merged
// across chunks in double precision (online log-sum-exp; H = logZ - E[y], E[y] the
// chunk-weighted mean). Backward: each tile is recomputed, turned into dlogits in place with the
// global logZ and H (the token_logprobs backward rows), then
//   dhidden[rows] += dz . W_chunk,   dW_chunk += dz^T . h.
// The tile has one extra column of -inf: tokens whose target lies in another chunk point there,
// so the row kernels need no special case. bfloat16 hidden states or weights are widened to float32
// one row block / vocabulary chunk at a time (accumulation is float32 throughout). Every reduction runs in an order fixed by N, V, C and
// the chunk size: bit-identical for any thread count; another chunk size changes only rounding.
#pragma once

#include <cstdint>

#include "../../include/steprl/linear_logprobs.h"

namespace steprl::cpu {

constexpr int64_t kLinearRowBlock = 1024;  // hidden rows per block (the tile is rows x chunk)

void linear_logprobs_forward_cpu(const LinearLogprobsArgs& args, const LinearLogprobsOutputs& out);
void linear_logprobs_backward_cpu(const LinearLogprobsArgs& args, const LinearLogprobsGrads& grads);

}  // namespace steprl::cpu
