// adamw.h: launchers of the AdamW step and the gradient norm on CUDA (cuda/adamw.cu), callable from
// host code that includes no CUDA header (native/ops/adamw.cc). Semantics of native/cpu/adamw.h
// (torch.optim.AdamW 1.13): g = grad * gradScale, p *= 1 - lr wd, m = b1 m + (1-b1) g,
// v = b2 v + (1-b2) g^2, p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps); the arguments come
// folded by the CPU's own adamw_args (include/steprl/adamw.h).
#pragma once

#include <cstdint>

#include "../include/steprl/adamw.h"

namespace steprl::cuda {

// args.params, m, v updated in place; grads read. Each [n].
void adamw_step_cuda(const AdamwArgs& args, int64_t n);

// sqrt(sum grads^2) in double over fixed chunks summed in chunk order; waits for the result.
double grad_norm_cuda(const float* grads, int64_t n);

}  // namespace steprl::cuda
