// prpo_advantage.h: launcher of the prpoAdvantages CUDA kernels (cuda/prpo_advantage.cu), callable
// from host code that includes no CUDA header (native/ops/prpo_advantage.cc). Semantics are those
// of native/cpu/prpo_advantage.h (ALGORITHMS.md §5.4): β_i = r_i − mean_g(r), z = (s − μ)/σ with
// the fixed prior or the group's pooled float64 statistics, A = (z + β)·m; compat keeps s + β on
// the last valid token and leaves it out of the pool.
#pragma once

#include <cstdint>

#include "../include/steprl/prpo_advantage.h"

namespace steprl::cuda {

// Queues the kernels and waits for them; bad values found on the device throw the TypeScript
// layer's ArgumentErrors (mask, then rewards, then tokenScores).
void prpo_advantage_cuda(const PrpoAdvantageArgs& args);

}  // namespace steprl::cuda
