// steprl/prpo_advantage.h: what the CPU (native/cpu/prpo_advantage.h) and CUDA
// (cuda/prpo_advantage.h) launchers of prpoAdvantage share (ALGORITHMS.md §5.3).
#pragma once

#include <cstdint>

namespace steprl {

struct PrpoAdvantageArgs {
  float* advantages;          // [R,T]  0 where m = 0
  const float* token_scores;  // [R,T]  s: the PRM score of each token's segment, finite where m = 1
  const float* rewards;       // [R]    r (outcome), finite
  const int32_t* group_ids;   // [R]
  const void* mask;           // [R,T]  float32, or uint8 when mask_u8; values 0/1 (checked on cuda)
  bool mask_u8;
  int64_t T;
  bool empirical;             // prior 'empirical' (srpo4) instead of 'fixed' (srpo2)
  double mu0, sigma0;         // the fixed prior, σ0 > 0
  double eps;                 // added to σ_g (empirical only)
  bool compat;
  int64_t R;                  // < 2^31
};

}  // namespace steprl
