// steprl/rmsnorm.h: what the CPU (native/cpu/rmsnorm.h) and CUDA (cuda/rmsnorm.h) launchers of
// rmsnormForward/rmsnormBackward share.
#pragma once

#include <cstdint>

namespace steprl {

struct RmsnormForwardArgs {
  float* out;           // [N,C]  may be inp itself
  float* rstd;          // [N]
  const float* inp;     // [N,C]
  const float* weight;  // [C]
  int64_t C;
  float eps;
  int64_t N;
};

struct RmsnormBackwardArgs {
  float* dinp;          // [N,C]  +=
  const float* dout;    // [N,C]
  const float* inp;     // [N,C]
  const float* weight;  // [C]
  const float* rstd;    // [N]
  int64_t C;
  float* dweight = nullptr;  // [C] += (the CPU's row kernels take partial sums instead and leave it unset)
  int64_t N = 0;
};

}  // namespace steprl
