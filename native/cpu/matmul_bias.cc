// matmul_bias.cc: the linear layer on top of sgemm (matmul_bias.h): bias/residual prefill, the
// GEMM calls of forward and backward, and the deterministic dbias reduction. The prefill is one
// streaming pass (the GEMM then reads it back as C with beta = 1); the loops are vectorized by the
// compiler.
#include "matmul_bias.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "matmul.h"
#include "parallel.h"

namespace steprl::cpu {
namespace {

int64_t rows_grain(int64_t OC) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(OC, 1)); }

}  // namespace

void matmul_prefill_cpu(float* out, const float* bias, const float* residual, int64_t N, int64_t OC) {
  parallel_for(N, rows_grain(OC), [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      float* __restrict y = out + n * OC;
      if (residual == nullptr) {
        std::memcpy(y, bias, static_cast<size_t>(OC) * sizeof(float));
      } else if (bias == nullptr) {
        std::memcpy(y, residual + n * OC, static_cast<size_t>(OC) * sizeof(float));
      } else {
        const float* __restrict r = residual + n * OC;
        for (int64_t o = 0; o < OC; ++o) y[o] = bias[o] + r[o];
      }
    }
  });
}

void matmul_add_bias_cpu(float* out, const float* bias, int64_t N, int64_t OC) {
  parallel_for(N, rows_grain(OC), [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      float* __restrict y = out + n * OC;
      for (int64_t o = 0; o < OC; ++o) y[o] += bias[o];
    }
  });
}

void matmul_dbias_cpu(float* dbias, const float* dout, int64_t N, int64_t OC) {
  if (N <= 0 || OC <= 0) return;
  const int64_t tasks = task_count(N, kDbiasRowsPerTask);
  std::vector<float> partials(static_cast<size_t>(tasks * OC), 0.0f);
  parallel_for(tasks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      float* __restrict sum = partials.data() + t * OC;
      for (int64_t n = t * kDbiasRowsPerTask; n < std::min(N, (t + 1) * kDbiasRowsPerTask); ++n) {
        const float* __restrict g = dout + n * OC;
        for (int64_t o = 0; o < OC; ++o) sum[o] += g[o];
      }
    }
  });
  for (int64_t t = 0; t < tasks; ++t)
    for (int64_t o = 0; o < OC; ++o) dbias[o] += partials[t * OC + o];
}

void matmul_forward_cpu(float* out, const float* inp, const float* weight, const float* bias, const float* residual,
                        int64_t N, int64_t C, int64_t OC) {
  float beta = 0.0f;
  if (residual == out) {  // accumulate onto out
    beta = 1.0f;
    if (bias != nullptr) matmul_add_bias_cpu(out, bias, N, OC);
  } else if (bias != nullptr || residual != nullptr) {
    matmul_prefill_cpu(out, bias, residual, N, OC);
    beta = 1.0f;
  }
  sgemm(false, true, N, OC, C, 1.0f, inp, C, weight, C, beta, out, OC);
}

void matmul_backward_cpu(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                         const float* weight, int64_t N, int64_t C, int64_t OC) {
  if (dinp != nullptr) sgemm(false, false, N, C, OC, 1.0f, dout, OC, weight, C, 1.0f, dinp, C);
  if (dweight != nullptr) sgemm(true, false, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dweight, C);
  if (dbias != nullptr) matmul_dbias_cpu(dbias, dout, N, OC);
}

}  // namespace steprl::cpu
