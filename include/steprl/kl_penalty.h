// steprl/kl_penalty.h: what the CPU (native/cpu/kl_penalty.h) and CUDA (cuda/kl_penalty.h)
// launchers of klPenalty share: the estimator enum, the arguments and the clamps both backends
// must apply at the same places (ALGORITHMS.md §1.3; the math is stated in native/cpu/kl_penalty.h).
#pragma once

#include <cstdint>

namespace steprl {

enum class KlEstimator : int { k1 = 0, k2 = 1, k3 = 2, k3_plus = 3, abs = 4 };

struct KlPenaltyArgs {
  float* kl;                  // [n]
  float* dkl;                 // [n]  d kl / d logprobs
  const float* logprobs;      // [n]
  const float* ref_logprobs;  // [n]
  KlEstimator estimator;
  int64_t n;
};

constexpr float kKlDeltaClamp = 20.0f;  // |d| above this: d is clamped (verl)
constexpr float kKlValueClamp = 10.0f;  // k3 above this: the value is clamped (verl)
// For |d| <= kKlSeriesBound, expm1(d) - d = d^2 (1/2 + d/6 + ... + d^6/8!): the next term is
// below 5e-8 relative there; above it expm1(d) - d loses nothing.
constexpr float kKlSeriesBound = 0.5f;
constexpr float kK3Series[7] = {1.0f / 2, 1.0f / 6, 1.0f / 24, 1.0f / 120, 1.0f / 720, 1.0f / 5040, 1.0f / 40320};

}  // namespace steprl
