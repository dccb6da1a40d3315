// kl_penalty.h: launcher of the klPenalty CUDA kernel (cuda/kl_penalty.cu), callable from host
// code that includes no CUDA header (native/ops/kl_penalty.cc). Per token, with d = ref - logprob:
// the estimate kl and dkl = d kl / d logprob of kl_estimate_scalar (ALGORITHMS.md §1.3).
#pragma once

#include <cstdint>

#include "../include/steprl/kl_penalty.h"

namespace steprl::cuda {

// Queues the kernel on cuda::stream() and returns (outputs are ready in stream order).
void kl_penalty_cuda(const KlPenaltyArgs& args);

}  // namespace steprl::cuda
