// reinforce_advantage.h: launcher of the reinforceAdvantages CUDA kernels (cuda/reinforce_advantage.cu),
// callable from host code that includes no CUDA header (native/ops/reinforce_advantage.cc). Semantics
// are those of native/cpu/reinforce_advantage.h (REINFORCE++, arXiv 2501.03262): optional group-mean
// baseline, k1 KL folded into per-token rewards, discounted returns, batch normalization (population
// variance floored at 1e-8).
#pragma once

#include <cstdint>

#include "../include/steprl/reinforce_advantage.h"

namespace steprl::cuda {

// Queues the kernels and waits for them; a bad mask value or a non-finite reward throws the
// TypeScript layer's ArgumentError with its first index.
void reinforce_advantage_cuda(const ReinforceAdvantageArgs& args);

}  // namespace steprl::cuda
