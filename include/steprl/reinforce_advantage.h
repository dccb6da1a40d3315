// steprl/reinforce_advantage.h: what the CPU (native/cpu/reinforce_advantage.h) and CUDA
// (cuda/reinforce_advantage.h) launchers of reinforceAdvantage share: the arguments and the
// variance floor of the batch normalization (docs/ALGORITHMS-baselines.md).
#pragma once

#include <cstdint>

namespace steprl {

struct ReinforceAdvantageArgs {
  float* advantages;           // [R,T]  0 where m = 0
  float* returns;              // [R,T]  0 where m = 0
  const float* rewards;        // [R]    outcome reward per row, finite (checked on cuda)
  const int32_t* group_ids;    // [R]    or nullptr: no baseline (REINFORCE++)
  const float* old_logprobs;   // [R,T]  or nullptr when kl_coef = 0
  const float* ref_logprobs;   // [R,T]  or nullptr when kl_coef = 0
  const void* mask;            // [R,T]  float32, or uint8 when mask_u8; values 0/1 (checked on cuda)
  bool mask_u8;
  int64_t T;
  double kl_coef, gamma;
  bool normalize;
  int64_t R;
};

constexpr double kReinforceVarianceFloor = 1e-8;  // 1/sqrt(max(var, floor)) when normalizing

}  // namespace steprl
