// steprl/adamw.h: what the CPU (native/cpu/adamw.h) and CUDA (cuda/adamw.h) launchers of adamwStep
// share: the arguments, hyper-parameters folded once into float scalars (native/cpu/adamw.cc
// adamw_args) so both backends step with the same bits.
#pragma once

#include <cstdint>

namespace steprl {

struct AdamwArgs {
  float* params;       // [n]
  float* m;            // [n]  first moment
  float* v;            // [n]  second moment
  const float* grads;  // [n]
  // Scalars folded once (in double, like torch's Python-side arithmetic) before the loop:
  float decay;         // 1 - lr * weightDecay
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float step_size;     // lr / (1 - beta1^step)
  float inv_bias2_sqrt;  // 1 / sqrt(1 - beta2^step)
  float eps;
  float grad_scale;
};

}  // namespace steprl
