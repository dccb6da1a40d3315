// policy_loss.h: launcher of the policyLoss CUDA kernels (cuda/policy_loss.cu), callable from host
// code that includes no CUDA header (native/ops/policy_loss.cc). Semantics are those of
// native/cpu/policy_loss.h (ALGORITHMS.md §1.1-§1.4, §1.7): per token
//   rho = exp(clamp(l - old, +-20)), psi = max(-A rho, -A clip(rho, 1 - eps_low, 1 + eps_high))
//   (dual clip: min(psi, -A c) for A < 0), g = -A rho on the unclipped branch, + beta dkl;
// loss = s sum w (psi + beta kl), dlogprobs = s w g, w = mask * c_row from the aggregation;
// the gspo, gspo-token and cispo modes replace psi and g as native/cpu/policy_loss.h states.
#pragma once

#include <cstdint>

#include "../include/steprl/policy_loss.h"

namespace steprl::cuda {

// Queues the kernels, waits for the scalars and returns them (include/steprl/policy_loss.h's
// PolicyLossResult). A mask value other than 0 or 1 throws the TypeScript layer's ArgumentError
// with its first index.
PolicyLossResult policy_loss_cuda(const PolicyLossArgs& args);

}  // namespace steprl::cuda
