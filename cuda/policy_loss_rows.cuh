// policy_loss_rows.cuh: the per-token pieces of the policy loss on the device that policy_loss.cu
// and the one-pass lm_head + loss (linear_logprobs.cu, linear_policy_loss_cuda) share, so both
// compute the same row weights and per-token gradients with the same code: the mask test (and its
// validation), the per-row mask count, one token's clipped-surrogate terms (token_gradient), the
// cispo terms, the aggregation's row weight s c_r, and the host side of the mask error.
#pragma once

#include <string>

#include "../include/steprl/policy_loss.h"
#include "common.cuh"
#include "device.h"
#include "kl_estimate.cuh"

namespace steprl::cuda {
namespace {

constexpr int kPolicyLossThreads = 256;

// The mask element as 0/1, noting the first value that is neither.
template <bool kU8>
__device__ __forceinline__ bool mask_on(const void* mask, int64_t i, unsigned long long* bad_mask) {
  if constexpr (kU8) {
    const unsigned char m = __ldg(static_cast<const unsigned char*>(mask) + i);
    if (m > 1) atomicMin(bad_mask, static_cast<unsigned long long>(i));
    return m != 0;
  } else {
    const float m = __ldg(static_cast<const float*>(mask) + i);
    if (m != 0.0f && m != 1.0f) atomicMin(bad_mask, static_cast<unsigned long long>(i));
    return m != 0.0f;
  }
}

template <bool kU8>
__device__ __forceinline__ bool mask_on(const void* mask, int64_t i) {
  if constexpr (kU8) return static_cast<const unsigned char*>(mask)[i] != 0;
  else return static_cast<const float*>(mask)[i] != 0.0f;
}

template <bool kU8>
__global__ void __launch_bounds__(kPolicyLossThreads)
policy_loss_count_kernel(double* row_tokens,             // [R]
                         unsigned long long* total,       // [1]
                         const void* mask, int64_t R, int64_t T, unsigned long long* bad_mask) {  // mask [R,T]
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    float count = 0.0f;  // exact: at most T / blockDim per thread
    for (int64_t t = threadIdx.x; t < T; t += blockDim.x) count += mask_on<kU8>(mask, row * T + t, bad_mask) ? 1.0f : 0.0f;
    const double tokens = block_reduce_sum(static_cast<double>(count));
    if (threadIdx.x == 0) {
      row_tokens[row] = tokens;
      atomicAdd(total, static_cast<unsigned long long>(tokens));
    }
  }
}

struct TokenParams {
  float low, high, dual_clip, kl_coef;
  KlEstimator estimator;
  bool has_ref;
};

struct ThreadSums {
  float psi = 0.0f, kl = 0.0f, clipped = 0.0f, approx = 0.0f, tokens = 0.0f;
};

// One token (§1.2, §1.3); returns dlogprobs / w. Masked-out tokens never get here.
__device__ __forceinline__ float token_gradient(const TokenParams& p, float l, float old, float ref, float A, ThreadSums& s) {
  const float d = l - old;
  const bool ratio_clamped = fabsf(d) > kRatioClamp;
  const float rho = expf(clamp_nan(d, kRatioClamp));
  const float clipped_rho = rho < p.low ? p.low : (rho > p.high ? p.high : rho);
  float psi = fmaxf(-A * rho, -A * clipped_rho);
  if (A < 0.0f) psi = fminf(psi, -A * p.dual_clip);
  const bool active = (A > 0.0f && rho <= p.high) || (A < 0.0f && rho >= p.low && rho <= p.dual_clip);
  const bool unclipped = active && !ratio_clamped;
  float g = unclipped ? -A * rho : 0.0f;
  if (p.has_ref) {
    float kl, dkl;
    kl_estimate(p.estimator, l, ref, &kl, &dkl);
    g = fmaf(p.kl_coef, dkl, g);
    s.kl += kl;
  }
  s.psi += psi;
  s.clipped += (A != 0.0f && !unclipped) ? 1.0f : 0.0f;
  s.approx += old - l;
  s.tokens += 1.0f;
  return g;
}

// s c_r of a row (§1.4); row_tokens and total come from the count kernel when the aggregation needs them.
__device__ __forceinline__ double row_weight(LossAggregation aggregation, int64_t row, const double* row_tokens,
                                             const unsigned long long* total, double token_count, double row_count,
                                             double max_length, double loss_scale) {
  double w = 0.0;
  switch (aggregation) {
    case LossAggregation::token_mean: {
      const double tokens = token_count > 0.0 ? token_count : static_cast<double>(*total);
      if (tokens > 0.0) w = loss_scale * __drcp_rn(tokens);
      break;
    }
    case LossAggregation::seq_mean_token_mean:
      if (row_tokens[row] > 0.0) w = loss_scale * __drcp_rn(row_count * row_tokens[row]);
      break;
    case LossAggregation::seq_mean_token_sum: w = loss_scale * __drcp_rn(row_count); break;
    case LossAggregation::seq_mean_token_sum_norm: w = loss_scale * __drcp_rn(row_count * max_length); break;
  }
  return w;
}

// The cispo terms of one token (native/cpu/policy_loss.h): the clipped IS weight, detached, times -A.
__device__ __forceinline__ void cispo_terms(const TokenParams& p, float l, float old, float A, float* psi, float* g,
                                            bool* clipped) {
  const float rho = expf(clamp_nan(l - old, kRatioClamp));
  const float weight = fminf(fmaxf(rho, p.low), p.high);
  *psi = -weight * A * l;
  *g = -weight * A;
  *clipped = A != 0.0f && weight != rho;
}

// One cispo token with its KL term, as policy_loss_modes_kernel computes it; returns dlogprobs / w.
__device__ __forceinline__ float cispo_token_gradient(const TokenParams& p, float l, float old, float ref, float A,
                                                      ThreadSums& s) {
  float psi, g;
  bool clipped;
  cispo_terms(p, l, old, A, &psi, &g, &clipped);
  if (p.has_ref) {
    float kl, dkl;
    kl_estimate(p.estimator, l, ref, &kl, &dkl);
    g = fmaf(p.kl_coef, dkl, g);
    s.kl += kl;
  }
  s.psi += psi;
  s.clipped += clipped ? 1.0f : 0.0f;
  s.approx += old - l;
  s.tokens += 1.0f;
  return g;
}

// Throws the TypeScript layer's ArgumentError for the first mask value other than 0 or 1 that a
// kernel noted in bad_mask (waits for the stream).
inline void throw_if_bad_mask(const PolicyLossArgs& a, const ErrorIndex& bad_mask) {
  const uint64_t bad = bad_mask.read();
  if (bad == ErrorIndex::kNone) return;
  double value;
  if (a.mask_u8) {
    unsigned char byte = 0;
    copy_to_host(&byte, static_cast<const unsigned char*>(a.mask) + bad, 1);
    value = byte;
  } else {
    float f = 0.0f;
    copy_to_host(&f, static_cast<const float*>(a.mask) + bad, sizeof f);
    value = f;
  }
  throw ArgumentError("mask", "Expected 0 or 1 for every element of mask but received " + js_number(value) +
                                  " of type number at index " + std::to_string(bad));
}

}  // namespace
}  // namespace steprl::cuda
