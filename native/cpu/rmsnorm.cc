// rmsnorm.cc: dispatch (SIMD level, threads), the deterministic dweight reduction, and the scalar
// implementation, which is the plain-loop statement of what rmsnorm_simd.inl vectorizes.
#include "rmsnorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "parallel.h"
#include "simd.h"

namespace steprl::cpu {

void rmsnorm_forward_rows_scalar(const RmsnormForwardArgs& a, int64_t begin, int64_t end) {
  const int64_t C = a.C;
  for (int64_t n = begin; n < end; ++n) {
    const float* x = a.inp + n * C;
    float* y = a.out + n * C;
    float sum = 0.0f;
    for (int64_t c = 0; c < C; ++c) sum += x[c] * x[c];
    const float r = 1.0f / std::sqrt(sum / static_cast<float>(C) + a.eps);
    a.rstd[n] = r;
    for (int64_t c = 0; c < C; ++c) y[c] = x[c] * r * a.weight[c];
  }
}

void rmsnorm_backward_rows_scalar(const RmsnormBackwardArgs& a, float* partial, int64_t begin, int64_t end) {
  const int64_t C = a.C;
  std::fill(partial, partial + C, 0.0f);
  for (int64_t n = begin; n < end; ++n) {
    const float* x = a.inp + n * C;
    const float* g = a.dout + n * C;
    float* dx = a.dinp + n * C;
    const float r = a.rstd[n];
    float dot = 0.0f;  // sum_j g_j w_j x_j
    for (int64_t c = 0; c < C; ++c) dot += g[c] * a.weight[c] * x[c];
    const float k = -dot * r * r * r / static_cast<float>(C);
    for (int64_t c = 0; c < C; ++c) {
      dx[c] += r * a.weight[c] * g[c] + k * x[c];
      partial[c] += g[c] * x[c] * r;
    }
  }
}

void rmsnorm_forward_cpu(const RmsnormForwardArgs& args, int64_t N) {
  const auto rows = STEPRL_SIMD_KERNEL(rmsnorm_forward_rows);
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(args.C, 1));
  parallel_for(N, grain, [&](int64_t begin, int64_t end) { rows(args, begin, end); });
}

void rmsnorm_backward_cpu(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                          const float* rstd, int64_t N, int64_t C) {
  const auto rows = STEPRL_SIMD_KERNEL(rmsnorm_backward_rows);
  if (N <= 0 || C <= 0) return;
  const RmsnormBackwardArgs args{dinp, dout, inp, weight, rstd, C};
  const int64_t tasks = task_count(N, kRmsnormRowsPerTask);
  std::vector<float> partials(static_cast<size_t>(tasks * C));
  parallel_for(tasks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t)
      rows(args, partials.data() + t * C, t * kRmsnormRowsPerTask, std::min(N, (t + 1) * kRmsnormRowsPerTask));
  });
  // Column sums of the partials, always in task order.
  constexpr int64_t kColumns = 256;
  parallel_for(task_count(C, kColumns), 1, [&](int64_t begin, int64_t end) {
    for (int64_t block = begin; block < end; ++block) {
      const int64_t c0 = block * kColumns, n = std::min(kColumns, C - c0);
      float sum[kColumns] = {};
      for (int64_t t = 0; t < tasks; ++t)
        for (int64_t c = 0; c < n; ++c) sum[c] += partials[t * C + c0 + c];
      for (int64_t c = 0; c < n; ++c) dweight[c0 + c] += sum[c];
    }
  });
}

}  // namespace steprl::cpu
