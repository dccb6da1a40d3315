// rmsnorm.h: launchers of the RMSNorm CUDA kernels (cuda/rmsnorm.cu), callable from host code that
// includes no CUDA header (native/ops/rmsnorm.cc). Semantics of native/cpu/rmsnorm.h:
//   rstd = 1 / sqrt(mean_c(x_c^2) + eps),  y_c = x_c * rstd * w_c          (out may be inp)
//   dx_c += rstd * w_c * g_c - x_c * rstd^3 / C * sum_j g_j w_j x_j,  dw_c += sum_n g_c x_c rstd
// The dweight column sums run in a fixed order (cuda/column_sum.cuh): the same bits on every run.
#pragma once

#include <cstdint>

#include "../include/steprl/rmsnorm.h"

namespace steprl::cuda {

void rmsnorm_forward_cuda(const RmsnormForwardArgs& args);
// The forward that also writes y rounded to bfloat16 (include/steprl/cast.h's rule) into out_bf16
// [N,C] (disjoint from everything else); args.out may be nullptr: then only the bf16 copy is written.
void rmsnorm_forward_bf16_cuda(const RmsnormForwardArgs& args, uint16_t* out_bf16);
void rmsnorm_backward_cuda(const RmsnormBackwardArgs& args);

}  // namespace steprl::cuda
