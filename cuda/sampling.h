// sampling.h: launcher of next-token sampling on CUDA (cuda/sampling.cu), callable from host code
// that includes no CUDA header (native/ops/sampling.cc). Semantics of native/cpu/sampling.h:
// greedy (ties -> lowest index) when `greedy`, else softmax(logits / temperature) restricted to
// the top-k (ties by lower index), then to the nucleus (shortest best-first prefix whose mass
// reaches topP, at least one token), drawn by inverse CDF in index order with the CPU's
// counter-based uniform u = hash(seed, counter, row).
#pragma once

#include <cstdint>

#include "../include/steprl/sampling.h"

namespace steprl::cuda {

// Queues the kernel and waits for it; returns -1, or the first row without a finite maximum
// (NaN, +inf, or all -inf), whose token is -1.
int64_t sample_cuda(const SampleArgs& args);

}  // namespace steprl::cuda
