// weibull_reward.cu: PSPO* sequence rewards from per-step PRM scores (ALGORITHMS.md §3.2; the CPU
// statement is native/cpu/weibull_reward.cc), one thread per row over the ragged offsets:
//   s = exp(mean log max(p, 1e-12)) | exp(sum log max(p, 1e-12)) | min p | p_K      (float64)
//   weibull R = s h(K), log h(n) = log C + log(k/lambda) + (k-1) log(n/lambda) - (n/lambda)^k
//   pspo_ff R = s ff(s, K);  linear R = s;  K < minSteps (or K = 0): R = 0.
// The offsets index into the scores, so each thread checks its row's pair (0 <= o_i <= o_i+1 <=
// S) before reading, and the first decreasing pair and the first score outside [0, 1] are
// reported through device error words, then as the TypeScript layer's messages.
// Bytes per launch: 4(R+1) + 4S + 4R; rows are a few steps long, so this is latency-bound (one
// launch); a thread's reads of its row are contiguous but not coalesced across the warp.
#include "weibull_reward.h"

#include <string>

#include "common.cuh"
#include "device.h"

namespace steprl::cuda {
namespace {

using cpu::RewardShaping;
using cpu::StepAggregate;
constexpr int kThreads = 128;

__device__ double aggregate_steps(const float* p, int64_t K, StepAggregate aggregate) {
  if (aggregate == StepAggregate::min) {
    double lo = p[0];
    for (int64_t j = 1; j < K; ++j) lo = fmin(lo, static_cast<double>(p[j]));
    return lo;
  }
  if (aggregate == StepAggregate::last) return p[K - 1];
  double log_sum = 0.0;
  for (int64_t j = 0; j < K; ++j) log_sum += log(fmax(static_cast<double>(p[j]), cpu::kStepScoreFloor));
  return exp(aggregate == StepAggregate::geomean ? log_sum * __drcp_rn(static_cast<double>(K)) : log_sum);
}

__device__ double weibull_shaping(double n, double k, double lambda, double peak) {
  const double x = n * __drcp_rn(lambda);
  return exp(log(peak) + log(k * __drcp_rn(lambda)) + (k - 1.0) * log(x) - pow(x, k));
}

// The released PSPO code's ff(s, n) (cpu::pspo_ff).
__device__ double pspo_ff(double s, double n) {
  constexpr double kThreshold = 4.0, kGrowth = 0.1, kHigh = 0.88433, kLow = 0.2, kCentre = 0.21159;
  if (n <= kThreshold) return s * exp(0.5 * n);
  const double base = s * exp(0.5 * kThreshold);
  const double blend = __drcp_rn(1.0 + exp(-10.0 * (n - kThreshold)));
  const double rate = s > kHigh ? kGrowth : (s > 0.0 && s < kLow) ? -kGrowth : kGrowth * (s - kCentre) * __drcp_rn(kHigh);
  return base * (1.0 - blend) + blend * base * exp(rate * (n - kThreshold));
}

__global__ void __launch_bounds__(kThreads)
weibull_reward_kernel(float* rewards,                                        // [R]
                      const float* scores, const int32_t* offsets,           // [S], [R+1]
                      int64_t R, int64_t S, RewardShaping shaping, StepAggregate aggregate, double k, double lambda,
                      double peak, int64_t min_steps, unsigned long long* bad_offset, unsigned long long* bad_score) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < R; i += stride) {
    const int64_t begin = offsets[i], end = offsets[i + 1];
    if (end < begin) atomicMin(bad_offset, static_cast<unsigned long long>(i + 1));
    if (begin < 0 || end < begin || end > S) continue;  // reported (offsets[0], order or offsets[R]); nothing read
    const float* p = scores + begin;
    const int64_t K = end - begin;
    for (int64_t j = 0; j < K; ++j)
      if (!(p[j] >= 0.0f && p[j] <= 1.0f)) atomicMin(bad_score, static_cast<unsigned long long>(begin + j));
    if (K == 0 || K < min_steps) {
      rewards[i] = 0.0f;
      continue;
    }
    const double s = aggregate_steps(p, K, aggregate);
    const double n = static_cast<double>(K);
    double reward = s;
    if (shaping == RewardShaping::weibull) reward = s * weibull_shaping(n, k, lambda, peak);
    else if (shaping == RewardShaping::pspo_ff) reward = s * pspo_ff(s, n);
    rewards[i] = static_cast<float>(reward);
  }
}

}  // namespace

void weibull_reward_cuda(const WeibullRewardArgs& a) {
  const ErrorIndex bad_offset, bad_score;
  if (a.R > 0) {
    const int64_t blocks = ceil_div(a.R, kThreads);
    STEPRL_LAUNCH(weibull_reward_kernel, static_cast<unsigned>(blocks < 65535 ? blocks : 65535), kThreads, 0, stream(),
                  a.rewards, a.step_scores, a.step_offsets, a.R, a.S, a.shaping, a.aggregate, a.k, a.lambda, a.peak,
                  a.min_steps, bad_offset.device(), bad_score.device());
  }
  int32_t first = 0, last = 0;
  copy_to_host(&first, a.step_offsets, sizeof first);
  copy_to_host(&last, a.step_offsets + a.R, sizeof last);
  if (first != 0)
    throw ArgumentError("stepOffsets", "Expected 0 for stepOffsets[0] but received " + std::to_string(first) + " of type number");
  const uint64_t decrease = bad_offset.read();
  if (decrease != ErrorIndex::kNone) {
    int32_t pair[2];
    copy_to_host(pair, a.step_offsets + decrease - 1, sizeof pair);
    throw ArgumentError("stepOffsets", "Expected non-decreasing values for stepOffsets but received " + std::to_string(pair[1]) +
                                           " after " + std::to_string(pair[0]) + " at index " + std::to_string(decrease));
  }
  if (last != a.S)
    throw ArgumentError("stepOffsets", "Expected " + std::to_string(a.S) + " (the number of step scores) for stepOffsets[" +
                                           std::to_string(a.R) + "] but received " + std::to_string(last) + " of type number");
  const uint64_t score = bad_score.read();
  if (score != ErrorIndex::kNone) {
    float value = 0.0f;
    copy_to_host(&value, a.step_scores + score, sizeof value);
    throw ArgumentError("stepScores", "Expected a number in [0, 1] for every element of stepScores but received " +
                                          js_number(value) + " of type number at index " + std::to_string(score));
  }
}

}  // namespace steprl::cuda
