// policy_loss.h: launcher of the policyLoss CUDA kernels (cuda/policy_loss.cu), callable from host
// code that includes no CUDA header (native/ops/policy_loss.cc). Semantics are those of
// native/cpu/policy_loss.h (ALGORITHMS.md §1.1-§1.4, §1.7): per token
//   rho = exp(clamp(l - old, +-20)), psi = max(-A rho, -A clip(rho, 1 - eps_low, 1 + eps_high))
//   (dual clip: min(psi, -A c) for A < 0), g = -A rho on the unclipped branch, + beta dkl;
// loss = s sum w (psi + beta kl), dlogprobs = s w g, w = mask * c_row from the aggregation;
// the gspo, gspo-token and cispo modes replace psi and g as native/cpu/policy_loss.h states.
#pragma once

#include <cstdint>

#include "../native/cpu/policy_loss.h"

namespace steprl::cuda {

struct PolicyLossArgs {
  float* dlogprobs;            // [R,T]  0 where the mask is 0
  const float* logprobs;       // [R,T]
  const float* old_logprobs;   // [R,T]
  const float* ref_logprobs;   // [R,T]  or nullptr: no KL term, kl = 0
  const float* advantages;     // [R,T]
  const void* mask;            // [R,T]  float32, or uint8 when mask_u8; values 0 or 1 (checked)
  bool mask_u8;
  int64_t R, T;
  float clip_low, clip_high, dual_clip;  // dual_clip = +inf for none
  float kl_coef;
  cpu::KlEstimator kl_estimator;
  cpu::LossAggregation aggregation;
  cpu::PolicyLossMode mode;
  double token_count;          // token-mean denominator, or 0 for this batch's sum of the mask
  double row_count, max_length, loss_scale;
};

// Queues the kernels, waits for the scalars and returns them (the cpu's result struct). A mask
// value other than 0 or 1 throws the TypeScript layer's ArgumentError with its first index.
cpu::PolicyLossResult policy_loss_cuda(const PolicyLossArgs& args);

}  // namespace steprl::cuda
