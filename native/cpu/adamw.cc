// adamw.cc: the AdamW step and the gradient norm of adamw.h. Both are streaming loops bounded by
// memory bandwidth (7 and 1 floats moved per element); the compiler vectorizes the step (sqrt and
// division included, -fno-math-errno), and the norm runs 8 independent fp64 accumulators.
#include "adamw.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "parallel.h"

namespace steprl::cpu {

AdamwArgs adamw_args(float* params, float* m, float* v, const float* grads, double lr, double beta1, double beta2,
                     double eps, double weight_decay, int64_t step, double grad_scale) {
  AdamwArgs a;
  a.params = params;
  a.m = m;
  a.v = v;
  a.grads = grads;
  a.decay = static_cast<float>(1.0 - lr * weight_decay);
  a.beta1 = static_cast<float>(beta1);
  a.one_minus_beta1 = static_cast<float>(1.0 - beta1);
  a.beta2 = static_cast<float>(beta2);
  a.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  const double s = static_cast<double>(step);
  a.step_size = static_cast<float>(lr / (1.0 - std::pow(beta1, s)));
  a.inv_bias2_sqrt = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(beta2, s)));
  a.eps = static_cast<float>(eps);
  a.grad_scale = static_cast<float>(grad_scale);
  return a;
}

void adamw_step_cpu(const AdamwArgs& a, int64_t n) {
  parallel_for(n, 1 << 15, [&](int64_t begin, int64_t end) {
    float* __restrict p = a.params;
    float* __restrict m = a.m;
    float* __restrict v = a.v;
    const float* __restrict grads = a.grads;
    for (int64_t i = begin; i < end; ++i) {
      const float g = grads[i] * a.grad_scale;
      const float mi = a.beta1 * m[i] + a.one_minus_beta1 * g;
      const float vi = a.beta2 * v[i] + a.one_minus_beta2 * (g * g);
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i] * a.decay - a.step_size * mi / (std::sqrt(vi) * a.inv_bias2_sqrt + a.eps);
    }
  });
}

double grad_norm_cpu(const float* grads, int64_t n) {
  const int64_t chunks = task_count(n, kGradNormChunk);
  std::vector<double> partial(static_cast<size_t>(chunks));
  parallel_for(chunks, 4, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const int64_t lo = c * kGradNormChunk, hi = std::min(n, lo + kGradNormChunk);
      double acc[8] = {};
      int64_t i = lo;
      for (; i + 8 <= hi; i += 8)
        for (int k = 0; k < 8; ++k) acc[k] += static_cast<double>(grads[i + k]) * grads[i + k];
      for (; i < hi; ++i) acc[0] += static_cast<double>(grads[i]) * grads[i];
      partial[c] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
  });
  double sum = 0.0;
  for (double s : partial) sum += s;
  return std::sqrt(sum);
}

}  // namespace steprl::cpu
