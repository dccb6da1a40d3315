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

namespace steprl::cuda {

struct LinearLogprobsArgs {
  const void* hidden;       // [M,C] float32, or bfloat16 bits when hidden_bf16
  const void* weight;       // [V,C] float32, or bfloat16 bits when weight_bf16
  bool hidden_bf16, weight_bf16;  // widened to float32 a row block / vocabulary chunk at a time
  const int32_t* targets;   // [N] in [0, V) (checked by the caller)
  const int32_t* rows;      // [N] distinct rows in [0, M), or nullptr (token i is row i)
  int64_t N, C, V, chunk;
  float inv_temperature;
};

struct LinearLogprobsOutputs {
  float* logprobs;          // [N]
  float* logz;              // [N]
  float* entropy;           // [N] or nullptr
};

struct LinearLogprobsGrads {
  const float* logz;        // [N]
  const float* dlogprobs;   // [N]
  const float* entropy;     // [N]; required when dentropy is given
  const float* dentropy;    // [N] or nullptr
  float* dhidden;           // [M,C] +=
  float* dweight;           // [V,C] += , or nullptr
};

void linear_logprobs_forward_cuda(const LinearLogprobsArgs& args, const LinearLogprobsOutputs& out);
void linear_logprobs_backward_cuda(const LinearLogprobsArgs& args, const LinearLogprobsGrads& grads);
// Sets `count` floats to 0 (queued on the stream).
void fill_zero_cuda(float* data, int64_t count);

}  // namespace steprl::cuda
