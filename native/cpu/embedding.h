// embedding.h: token embedding lookup (HF nn.Embedding / llm.c encoder without positions):
//   out[n, :] = table[tokens[n], :]
// Backward, accumulated: dtable[v, :] += sum over n with tokens[n] == v of dout[n, :], each vocab
// row summed by one task in increasing n, so the result is the same for any thread count (no
// atomics): the (token, n) pairs are sorted, and tasks take whole runs of one token.
#pragma once

#include <cstdint>

namespace steprl::cpu {

// tokens must already be range-checked (0 <= tokens[n] < V).
void embedding_forward_cpu(float* out /* [N,C] */, const int32_t* tokens /* [N] */, const float* table /* [V,C] */,
                           int64_t N, int64_t C);
void embedding_backward_cpu(float* dtable /* [V,C] += */, const float* dout /* [N,C] */,
                            const int32_t* tokens /* [N] */, int64_t N, int64_t C);

}  // namespace steprl::cpu
