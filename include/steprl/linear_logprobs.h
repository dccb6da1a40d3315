// steprl/linear_logprobs.h: what the CPU (native/cpu/linear_logprobs.h) and CUDA
// (cuda/linear_logprobs.h) launchers of linearLogprobs share: the arguments, outputs and gradients.
#pragma once

#include <cstdint>

namespace steprl {

struct LinearLogprobsArgs {
  const void* hidden;       // [M,C] float32, or bfloat16 bits when hidden_bf16
  const void* weight;       // [V,C] float32, or bfloat16 bits when weight_bf16
  int hidden_bf16, weight_bf16;  // bfloat16 inputs are widened to float32 a block / chunk at a time
  const int32_t* targets;   // [N] in [0, V) (checked by the caller)
  const int32_t* rows;      // [N] distinct rows of hidden in [0, M), or nullptr (token i is row i)
  int64_t N, C, V, chunk;   // chunk: vocabulary columns per tile, >= 1
  float inv_temperature;
};

struct LinearLogprobsOutputs {
  float* logprobs;          // [N]
  float* logz;              // [N]
  float* entropy;           // [N] or nullptr
};

struct LinearLogprobsGrads {
  const float* logz;        // [N] from the forward
  const float* dlogprobs;   // [N]
  const float* entropy;     // [N] from the forward; required when dentropy is given
  const float* dentropy;    // [N] or nullptr
  float* dhidden;           // [M,C] +=
  float* dweight;           // [V,C] += , or nullptr (a frozen projection)
};

// The outputs of the one-pass lm_head + policy loss (native/cpu/linear_policy_loss.h,
// cuda/linear_logprobs.h's linear_policy_loss_cuda).
struct LinearPolicyLossOutputs {
  float* logprobs;   // [N]  ℓ
  float* logz;       // [N]
  float* dlogprobs;  // [N]  d loss / dℓ (0 off the mask)
  float* dhidden;    // [M,C] +=
  float* dweight;    // [V,C] +=, or nullptr (a frozen projection)
};

}  // namespace steprl
