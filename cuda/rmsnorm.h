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
void rmsnorm_backward_cuda(const RmsnormBackwardArgs& args);

}  // namespace steprl::cuda
