// adamw.h: launchers of the AdamW step and the gradient norm on CUDA (cuda/adamw.cu), callable from
// host code that includes no CUDA header (native/ops/adamw.cc). Semantics of native/cpu/adamw.h
// (torch.optim.AdamW 1.13): g = grad * gradScale, p *= 1 - lr wd, m = b1 m + (1-b1) g,
// v = b2 v + (1-b2) g^2, p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps); the scalars come
// folded by the CPU's own adamw_args (AdamwScalars mirrors cpu::AdamwArgs' numbers).
#pragma once

#include <cstdint>

namespace steprl::cuda {

struct AdamwScalars {
  float decay, beta1, one_minus_beta1, beta2, one_minus_beta2, step_size, inv_bias2_sqrt, eps, grad_scale;
};

// params, m, v updated in place; grads read. Each [n].
void adamw_step_cuda(float* params, float* m, float* v, const float* grads, int64_t n, const AdamwScalars& scalars);

// sqrt(sum grads^2) in double over fixed chunks summed in chunk order; waits for the result.
double grad_norm_cuda(const float* grads, int64_t n);

}  // namespace steprl::cuda
