// rmsnorm.h: RMSNorm forward and backward, as Hugging Face's LlamaRMSNorm computes it (in fp32):
//   rstd = 1 / sqrt(mean_c(x_c^2) + eps),   y_c = x_c * rstd * w_c
// Backward (upstream g = dy), accumulated into the gradients:
//   dx_c += rstd * w_c * g_c - x_c * rstd^3 / C * sum_j g_j w_j x_j
//   dw_c += sum_n g_c x_c rstd          (per-task partials over fixed row chunks, summed in order)
#pragma once

#include <cstdint>

#include "../../include/steprl/rmsnorm.h"

namespace steprl::cpu {

// Rows per backward task: the dweight partials are cut at these fixed boundaries, so the sum
// (and the result) is the same for any thread count.
constexpr int64_t kRmsnormRowsPerTask = 64;

void rmsnorm_forward_cpu(const RmsnormForwardArgs& args, int64_t N);
// dweight [C] += the column sums of g * x * rstd; dinp [N,C] +=.
void rmsnorm_backward_cpu(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                          const float* rstd, int64_t N, int64_t C);
// The same from the arguments CUDA takes (include/steprl/rmsnorm.h).
inline void rmsnorm_backward_cpu(const RmsnormBackwardArgs& a) {
  rmsnorm_backward_cpu(a.dinp, a.dweight, a.dout, a.inp, a.weight, a.rstd, a.N, a.C);
}

// One implementation per instruction set, over rows [begin, end). The backward one handles one
// task (a chunk of kRmsnormRowsPerTask rows) and writes that chunk's dweight partial.
void rmsnorm_forward_rows_scalar(const RmsnormForwardArgs& args, int64_t begin, int64_t end);
void rmsnorm_forward_rows_avx2(const RmsnormForwardArgs& args, int64_t begin, int64_t end);
void rmsnorm_forward_rows_avx512(const RmsnormForwardArgs& args, int64_t begin, int64_t end);
void rmsnorm_backward_rows_scalar(const RmsnormBackwardArgs& args, float* partial, int64_t begin, int64_t end);
void rmsnorm_backward_rows_avx2(const RmsnormBackwardArgs& args, float* partial, int64_t begin, int64_t end);
void rmsnorm_backward_rows_avx512(const RmsnormBackwardArgs& args, float* partial, int64_t begin, int64_t end);

}  // namespace steprl::cpu
