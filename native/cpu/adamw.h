// adamw.h: one AdamW step over a flat parameter buffer, as torch.optim.AdamW (1.13, single-tensor
// path) computes it, with the gradient scaled first (1/accumulation steps, a clip factor):
//   g = grad * gradScale
//   p *= 1 - lr * weightDecay                          (decoupled weight decay)
//   m = beta1 * m + (1 - beta1) * g,   v = beta2 * v + (1 - beta2) * g^2
//   p -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
// and the global L2 norm of a gradient buffer (for clipping): fp64 sums over fixed chunks,
// combined in chunk order, so it does not depend on the thread count.
#pragma once

#include <cstdint>

#include "../../include/steprl/adamw.h"

namespace steprl::cpu {

// Folds the hyper-parameters into AdamwArgs' scalars.
AdamwArgs adamw_args(float* params, float* m, float* v, const float* grads, double lr, double beta1, double beta2,
                     double eps, double weight_decay, int64_t step, double grad_scale);
void adamw_step_cpu(const AdamwArgs& args, int64_t n);

// sqrt(sum_i grads[i]^2), accumulated in double.
double grad_norm_cpu(const float* grads, int64_t n);

constexpr int64_t kGradNormChunk = 1 << 14;  // elements per partial sum (fixed: determinism)

}  // namespace steprl::cpu
