// kl_estimate.cuh: one token's KL estimate and its derivative on the device, for kl_penalty.cu
// and policy_loss.cu; the device statement of kl_estimate_scalar (native/cpu/kl_penalty.h),
// with the enum and constants of include/steprl/kl_penalty.h, so both backends clamp at the same places.
//   d = ref - logprob;  k1 = -d (grad 1);  k2 = d^2/2 (grad -d);  abs = |d| (grad -sign d);
//   k3 = expm1(dc) - dc, dc = clamp(d, -20, 20), value clamped to [-10, 10], grad -expm1(dc) and
//   0 where a clamp acts; k3+ = k3's value with k2's gradient (ALGORITHMS.md §1.3).
// For |dc| <= 0.5, expm1(dc) - dc comes from its Taylor series (no cancellation at tiny d).
#pragma once

#include "../include/steprl/kl_penalty.h"
#include "common.cuh"

namespace steprl::cuda {


// Comparisons instead of fminf/fmaxf so a NaN stays NaN, as std::min/std::max keep it on the CPU.
__device__ __forceinline__ float clamp_nan(float x, float bound) { return x < -bound ? -bound : (x > bound ? bound : x); }

__device__ __forceinline__ void kl_estimate(KlEstimator estimator, float logprob, float ref, float* kl, float* dkl) {
  const float d = ref - logprob;
  switch (estimator) {
    case KlEstimator::k1: *kl = -d; *dkl = 1.0f; return;
    case KlEstimator::k2: *kl = 0.5f * (d * d); *dkl = -d; return;
    case KlEstimator::abs: *kl = fabsf(d); *dkl = d > 0.0f ? -1.0f : (d < 0.0f ? 1.0f : 0.0f); return;
    default: break;
  }
  const float dc = clamp_nan(d, kKlDeltaClamp);
  float value, expm1_dc;
  if (fabsf(dc) <= kKlSeriesBound) {
    // 1/2 + dc/6 + ... + dc^6/8! (the coefficients of kK3Series, as literals for the device)
    float p = 1.0f / 40320;
    p = fmaf(p, dc, 1.0f / 5040);
    p = fmaf(p, dc, 1.0f / 720);
    p = fmaf(p, dc, 1.0f / 120);
    p = fmaf(p, dc, 1.0f / 24);
    p = fmaf(p, dc, 1.0f / 6);
    p = fmaf(p, dc, 1.0f / 2);
    value = (dc * dc) * p;
    expm1_dc = dc + value;
  } else {
    expm1_dc = expm1f(dc);
    value = expm1_dc - dc;
  }
  *kl = clamp_nan(value, kKlValueClamp);
  if (estimator == KlEstimator::k3_plus) {
    *dkl = -d;
  } else {
    const bool clamped = fabsf(d) > kKlDeltaClamp || fabsf(value) > kKlValueClamp;
    *dkl = clamped ? 0.0f : -expm1_dc;
  }
}

}  // namespace steprl::cuda
