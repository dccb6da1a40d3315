// linear_logprobs.h: launchers of the fused output projection + token log-probs on CUDA
// (cuda/linear_logprobs.cu), callable from host code that includes no CUDA header
// (native/ops/linear_logprobs.cc). Semantics of native/cpu/linear_logprobs.h:
//   z = h[rows] . W^T, y = z/tau: logprob = y[target] - logsumexp(y), H = -sum p log p;
//   backward: dhidden[rows] += dz . W, dweight += dz^T . h   (dweight optional)
// One [rows, chunk] tile of logits exists at a time (device scratch); the tile's GEMMs are the
// launchers of cuda/matmul.h. Every element is summed in one fixed order (no atomics): the same
// bits on every run. The launchers only queue kernels on cuda::stream().
#pragma once

#include <cstdint>

#include "../include/steprl/linear_logprobs.h"

namespace steprl::cuda {

void linear_logprobs_forward_cuda(const LinearLogprobsArgs& args, const LinearLogprobsOutputs& out);
void linear_logprobs_backward_cuda(const LinearLogprobsArgs& args, const LinearLogprobsGrads& grads);
// Sets `count` floats to 0 (queued on the stream).
void fill_zero_cuda(float* data, int64_t count);

}  // namespace steprl::cuda
