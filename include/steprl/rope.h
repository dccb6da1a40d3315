// steprl/rope.h: the arguments of rope/ropeBackward as the CUDA launcher takes them (cuda/rope.h);
// the CPU launchers (native/cpu/rope.h) take the same fields one by one, plus theta.
#pragma once

#include <cstdint>

namespace steprl {

struct RopeArgs {
  float* out;               // [N, heads*D]  may be inp itself
  const float* inp;         // [N, heads*D]
  const int32_t* positions; // [N]
  const float* inv_freq;    // [D/2] (on the device of the call)
  int64_t N, heads, D;
  bool backward;            // rotate by -a
};

constexpr int64_t kRopeMaxHeadDim = 8192;

}  // namespace steprl
