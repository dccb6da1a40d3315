// prl_advantage.h: launcher of the prlAdvantages CUDA kernels (cuda/prl_advantage.cu), callable
// from host code that includes no CUDA header (native/ops/prl_advantage.cc). Semantics are those
// of native/cpu/prl_advantage.h (ALGORITHMS.md §4.3): S = inclusive reverse sum of m(ℓold − ℓref),
// step ends = stepEnds ∪ {L_i − 1} (every valid token in token mode), v = Â − S(e or e+1)/η,
// A[t] = v at the nearest step end ≥ t, times m.
#pragma once

#include <cstdint>

#include "../include/steprl/prl_advantage.h"

namespace steprl::cuda {

// Queues the kernel and waits for it: a mask value other than 0 or 1 throws the TypeScript
// layer's ArgumentError with its first index.
void prl_advantage_cuda(const PrlAdvantageArgs& args);

}  // namespace steprl::cuda
