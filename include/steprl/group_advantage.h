// steprl/group_advantage.h: what the CPU (native/cpu/group_advantage.h) and CUDA
// (cuda/group_advantage.h) launchers of groupAdvantage share (ALGORITHMS.md §1.5, §6.4, §8.7).
#pragma once

#include <cstdint>

namespace steprl {

struct GroupAdvantageArgs {
  float* advantages;         // [R]
  const float* rewards;      // [R]  finite (checked on cuda)
  const int32_t* group_ids;  // [R]
  bool scale_by_std;         // 'std' or 'none'
  bool unbiased;             // divisor G−1 or G
  double eps;
  bool leave_one_out;        // RLOO: A = G/(G−1)·(r − μ), no σ (scale_by_std is false then); a singleton group throws
  int64_t R;                 // < 2^31
};

}  // namespace steprl
