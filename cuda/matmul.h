// matmul.h: launchers of the linear-layer CUDA kernels (cuda/matmul.cu), callable from host code
// that includes no CUDA header (native/ops/matmul.cc). Semantics of native/cpu/matmul_bias.h:
//   forward   out[N,OC] = inp[N,C] . weight[OC,C]^T + bias[OC] + residual[N,OC]   (residual may be out)
//   backward  dinp[N,C] += dout[N,OC] . weight,  dweight[OC,C] += dout^T . inp,
//             dbias[OC] += column sums of dout                   (each gradient optional)
// Every output element is summed in one fixed order (no atomics): the same bits on every run.
// The launchers only queue kernels on cuda::stream(); they return before the GPU finishes.
#pragma once

#include <cstdint>

#include "../include/steprl/matmul.h"

namespace steprl::cuda {

void matmul_forward_cuda(const MatmulForwardArgs& args);
void matmul_backward_cuda(const MatmulBackwardArgs& args);

}  // namespace steprl::cuda
