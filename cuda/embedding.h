// embedding.h: launchers of the token-embedding CUDA kernels (cuda/embedding.cu), callable from
// host code that includes no CUDA header (native/ops/embedding.cc). Semantics of
// native/cpu/embedding.h: out[n,:] = table[tokens[n],:]; dtable[v,:] += sum over n with
// tokens[n] == v of dout[n,:], each vocab row summed in increasing n (deterministic, no atomics).
// Tokens must already be range-checked (0 <= tokens[n] < V).
#pragma once

#include <cstdint>

namespace steprl::cuda {

void embedding_forward_cuda(float* out /* [N,C] */, const int32_t* tokens /* [N] */, const float* table /* [V,C] */,
                            int64_t N, int64_t C);
void embedding_backward_cuda(float* dtable /* [V,C] += */, const float* dout /* [N,C] */, const int32_t* tokens /* [N] */,
                             int64_t N, int64_t C);

}  // namespace steprl::cuda
