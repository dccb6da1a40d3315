// steprl/gae.h: what the CPU (native/cpu/gae.h) and CUDA (cuda/gae.h) launchers of gae share:
// the arguments and the whitening epsilon (ALGORITHMS.md §1.8; the math is stated in the CPU header).
#pragma once

#include <cstdint>

namespace steprl {

struct GaeArgs {
  float* advantages;      // [R,T]  0 where m = 0
  float* returns;         // [R,T]  0 where m = 0
  const float* rewards;   // [R,T]
  const float* values;    // [R,T]
  const void* mask;       // [R,T]  float32, or uint8 when mask_u8; values 0/1 (checked on cuda)
  bool mask_u8;
  int64_t T;
  double gamma, lambda;
  bool whiten;
  int64_t R;
};

constexpr double kWhitenEps = 1e-8;  // Â ← (Â − mean)/sqrt(var + kWhitenEps)

}  // namespace steprl
