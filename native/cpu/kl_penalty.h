// kl_penalty.h: per-token KL estimators between the policy and a frozen reference, and their
// derivative with respect to the policy log-prob (ALGORITHMS.md §1.3, Schulman's k1/k2/k3).
//   d = ref - logprob;  k1 = -d (grad 1);  k2 = d^2/2 (grad -d);  abs = |d| (grad -sign d);
//   k3 = expm1(dc) - dc with dc = clamp(d, -20, 20), then clamped to [-10, 10];
//        grad = -expm1(dc), and 0 where either clamp is active (strictly outside its range);
//   k3+ = the value of k3 with the gradient of k2 (verl's straight-through estimator).
// expm1(d) - d cancels for small |d|, so there it comes from its Taylor series. Element-wise and
// memory-bound: SIMD with runtime dispatch, parallel over fixed element spans. policy_loss uses
// the same estimators (kl_estimate_scalar here, kl_estimate<Vec> in kl_penalty_simd.inl).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../../include/steprl/kl_penalty.h"

namespace steprl::cpu {

// "k1", "k2", "k3", "k3+", "abs" -> the estimator; false for any other name.
bool kl_estimator_from_name(const char* name, KlEstimator* out);

void kl_penalty_forward_cpu(const KlPenaltyArgs& args, int64_t n);

// One implementation per instruction set, each over the elements [begin, end).
void kl_penalty_forward_span_scalar(const KlPenaltyArgs& args, int64_t begin, int64_t end);
void kl_penalty_forward_span_avx2(const KlPenaltyArgs& args, int64_t begin, int64_t end);
void kl_penalty_forward_span_avx512(const KlPenaltyArgs& args, int64_t begin, int64_t end);

// The scalar statement of one estimator. `static`: every translation unit (scalar kl_penalty and
// policy_loss) gets its own copy, compiled without ISA pragmas (see simd.h).
static inline void kl_estimate_scalar(KlEstimator estimator, float logprob, float ref, float* kl, float* dkl) {
  const float d = ref - logprob;
  switch (estimator) {
    case KlEstimator::k1: *kl = -d; *dkl = 1.0f; return;
    case KlEstimator::k2: *kl = 0.5f * (d * d); *dkl = -d; return;
    case KlEstimator::abs: *kl = std::fabs(d); *dkl = d > 0.0f ? -1.0f : (d < 0.0f ? 1.0f : 0.0f); return;
    default: break;
  }
  const float dc = std::min(std::max(d, -kKlDeltaClamp), kKlDeltaClamp);
  float value, expm1_dc;
  if (std::fabs(dc) <= kKlSeriesBound) {
    float p = kK3Series[6];
    for (int j = 5; j >= 0; --j) p = p * dc + kK3Series[j];
    value = (dc * dc) * p;
    expm1_dc = dc + value;
  } else {
    expm1_dc = std::expm1(dc);
    value = expm1_dc - dc;
  }
  *kl = std::min(std::max(value, -kKlValueClamp), kKlValueClamp);
  if (estimator == KlEstimator::k3_plus) {
    *dkl = -d;
  } else {
    const bool clamped = std::fabs(d) > kKlDeltaClamp || std::fabs(value) > kKlValueClamp;
    *dkl = clamped ? 0.0f : -expm1_dc;
  }
}

}  // namespace steprl::cpu
