// steprl/token_logprobs.h: what the CPU (native/cpu/token_logprobs.h) and CUDA
// (cuda/token_logprobs.h) launchers of tokenLogprobs share: the arguments and the exp2 constants
// both backends compute with, bit for bit (ALGORITHMS.md §0, §1.9; math in the CPU header).
#pragma once

#include <cstdint>
#include <string>

#include "errors.h"

namespace steprl {

struct TokenLogprobsForwardArgs {
  float* logprobs;            // [R]
  float* logz;                // [R]  logsumexp of logits/tau
  float* entropy;             // [R]  or nullptr
  const void* logits;         // [R,V] float32, or bfloat16 bits when logits_bf16
  int logits_bf16;
  const int32_t* targets;     // [R]  in [0, V) (checked by the caller)
  int64_t V;
  float inv_temperature;
  int64_t R = 0;              // a default: native/cpu/linear_logprobs.cc fills the fields above in order
};

struct TokenLogprobsBackwardArgs {
  float* dlogits;             // [R,V]  written once, every element
  const void* logits;         // [R,V] float32, or bfloat16 bits when logits_bf16
  int logits_bf16;
  const int32_t* targets;     // [R]
  const float* logz;          // [R]  from the forward
  const float* dlogprobs;     // [R]
  const float* entropy;       // [R]  or nullptr (recomputed when dentropy needs it)
  const float* dentropy;      // [R]  or nullptr
  int64_t V;
  float inv_temperature;
  int streaming_stores;       // cpu: write dlogits around the caches (large outputs)
  int64_t R = 0;              // (a default, as in the forward)
};

constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2 = 0.693147180559945309f;
// exp2 arguments stop here: 2^-200 is exactly 0 in float, so -inf logits give p = 0 and
// p log p = 0 without special cases.
constexpr float kExp2Floor = -200.0f;

// Targets index into the logits (and linearLogprobs' weight rows): each must lie in [0, V).
inline void check_targets(const int32_t* targets, int64_t n, int64_t V) {
  for (int64_t i = 0; i < n; ++i)
    if (targets[i] < 0 || targets[i] >= V)
      throw ArgumentError("targets", "Expected every target in [0, " + std::to_string(V) + ") but received " +
                                         std::to_string(targets[i]) + " at index " + std::to_string(i));
}

}  // namespace steprl
