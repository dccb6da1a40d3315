// reinforce_advantage.h: launcher of the reinforceAdvantages CUDA kernels (cuda/reinforce_advantage.cu),
// callable from host code that includes no CUDA header (native/ops/reinforce_advantage.cc). Semantics
// are those of native/cpu/reinforce_advantage.h (REINFORCE++, arXiv 2501.03262): optional group-mean
// baseline, k1 KL folded into per-token rewards, discounted returns, batch normalization (population
// variance floored at 1e-8).
#pragma once

#include <cstdint>

namespace steprl::cuda {

struct ReinforceAdvantageArgs {
  float* advantages;          // [R,T]
  float* returns;             // [R,T]
  const float* rewards;       // [R]  finite (checked on the device)
  const int32_t* group_ids;   // [R]  or nullptr: no baseline
  const float* old_logprobs;  // [R,T] or nullptr when kl_coef = 0
  const float* ref_logprobs;  // [R,T] or nullptr when kl_coef = 0
  const void* mask;           // [R,T] float32, or uint8 when mask_u8; 0/1 (checked)
  bool mask_u8;
  int64_t R, T;
  double kl_coef, gamma;
  bool normalize;
};

// Queues the kernels and waits for them; a bad mask value or a non-finite reward throws the
// TypeScript layer's ArgumentError with its first index.
void reinforce_advantage_cuda(const ReinforceAdvantageArgs& args);

}  // namespace steprl::cuda
