// weibull_reward.h: launcher of the weibullReward CUDA kernel (cuda/weibull_reward.cu), callable
// from host code that includes no CUDA header (native/ops/weibull_reward.cc). Semantics are those
// of native/cpu/weibull_reward.h (ALGORITHMS.md §3.2): row i's K steps are
// scores[offsets[i] .. offsets[i+1]); K < minSteps gives 0; otherwise R = s * h(K) (weibull),
// s * ff(s, K) (pspo_ff) or s (linear), s the geomean/product/min/last of the step scores.
#pragma once

#include <cstdint>

#include "../include/steprl/weibull_reward.h"

namespace steprl::cuda {

// Queues the kernel and waits for it: malformed offsets or scores outside [0, 1] throw the
// TypeScript layer's ArgumentErrors (in its order: offsets[0], monotonicity, offsets[R], scores).
void weibull_reward_cuda(const WeibullRewardArgs& args);

}  // namespace steprl::cuda
