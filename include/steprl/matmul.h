// steprl/matmul.h: the arguments of matmul/matmulBackward as the CUDA launchers take them
// (cuda/matmul.h); the CPU launchers (native/cpu/matmul_bias.h) take the same fields one by one.
#pragma once

#include <cstdint>

namespace steprl {

struct MatmulForwardArgs {
  float* out;             // [N,OC]
  const float* inp;       // [N,C]
  const float* weight;    // [OC,C]
  const float* bias;      // [OC] or nullptr
  const float* residual;  // [N,OC] or nullptr; may be out itself (accumulate)
  int64_t N, C, OC;
};

struct MatmulBackwardArgs {
  float* dinp;            // [N,C]  += , or nullptr
  float* dweight;         // [OC,C] += , or nullptr
  float* dbias;           // [OC]   += , or nullptr
  const float* dout;      // [N,OC]
  const float* inp;       // [N,C]
  const float* weight;    // [OC,C]
  int64_t N, C, OC;
};

}  // namespace steprl
