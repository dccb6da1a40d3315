// token_logprobs.h: launchers of the tokenLogprobs CUDA kernels (cuda/token_logprobs.cu), callable
// from host code that includes no CUDA header (native/ops/token_logprobs.cc).
//   logprob = z[target]/tau - logZ,  logZ = logsumexp(z/tau),  H = -sum p log p,  p = softmax(z/tau)
//   dz_v = (g (1[v=target] - p_v) - gH p_v (log p_v + H)) / tau          (ALGORITHMS.md §0, §1.9)
// Semantics are those of native/cpu/token_logprobs.h. Both launchers queue their kernels on
// cuda::stream() and then read back a device error word (so they wait for the kernels): a target
// outside [0, V) throws the CPU's ArgumentError, naming the first bad index and its value.
#pragma once

#include <cstdint>

#include "../include/steprl/token_logprobs.h"

namespace steprl::cuda {

void token_logprobs_forward_cuda(const TokenLogprobsForwardArgs& args);
void token_logprobs_backward_cuda(const TokenLogprobsBackwardArgs& args);

}  // namespace steprl::cuda
