// steprl/prm_score.h: what the CPU (native/cpu/prm_score.h) and CUDA (cuda/prm_score.h) launchers
// of prmScore share: the arguments (the aggregates and score floor are weibull_reward's).
#pragma once

#include <cstdint>

#include "weibull_reward.h"  // StepAggregate, kStepScoreFloor

namespace steprl {

struct PrmScoreArgs {
  float* scores;                // [R]
  const float* step_scores;     // [S]    each in [0, 1] (checked on cuda)
  const int32_t* step_offsets;  // [R+1]  0 = offsets[0] <= ... <= offsets[R] = S (check_step_offsets before any read)
  StepAggregate aggregate;
  int64_t R, S;
};

}  // namespace steprl
