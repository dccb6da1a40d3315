// steprl/weibull_reward.h: what the CPU (native/cpu/weibull_reward.h) and CUDA
// (cuda/weibull_reward.h) launchers of weibullReward share: the option enums, the arguments and the
// score floor (ALGORITHMS.md §3.2, §2; the math is stated in the CPU header).
#pragma once

#include <cstdint>

#include "step_offsets.h"

namespace steprl {

enum class RewardShaping : int { weibull = 0, pspo_ff = 1, linear = 2 };
enum class StepAggregate : int { geomean = 0, product = 1, min = 2, last = 3 };

struct WeibullRewardArgs {
  float* rewards;               // [R]
  const float* step_scores;     // [S]    each in [0, 1] (checked on cuda)
  const int32_t* step_offsets;  // [R+1]  0 = offsets[0] <= ... <= offsets[R] = S (check_step_offsets before any read)
  RewardShaping shaping;
  StepAggregate aggregate;
  double k, lambda, peak;       // Weibull shape k, scale λ, peak rescale C
  int64_t min_steps;
  int64_t R, S;
};

constexpr double kStepScoreFloor = 1e-12;  // log(max(p, floor)) in geomean and product (§2)

}  // namespace steprl
