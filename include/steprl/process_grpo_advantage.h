// steprl/process_grpo_advantage.h: what the CPU (native/cpu/process_grpo_advantage.h) and CUDA
// (cuda/process_grpo_advantage.h) launchers of processGrpoAdvantage share (ALGORITHMS.md §4.2).
#pragma once

#include <cstdint>

namespace steprl {

struct ProcessGrpoAdvantageArgs {
  float* advantages;            // [R,T]  0 where m = 0
  const float* step_rewards;    // [S]    finite
  const int32_t* step_ends;     // [S]    token index of each step's last token, non-decreasing per row in [0, L_i)
  const int32_t* step_offsets;  // [R+1]  0 = offsets[0] <= ... <= offsets[R] = S (checked before any read)
  const int32_t* group_ids;     // [R]
  const void* mask;             // [R,T]  float32, or uint8 when mask_u8; values 0/1 (checked on cuda)
  bool mask_u8;
  int64_t T, S;
  double eps;
  int64_t R;                    // < 2^31
};

}  // namespace steprl
