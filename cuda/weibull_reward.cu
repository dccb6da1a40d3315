// weibull_reward.cu: PSPO* sequence rewards from per-step PRM scores (ALGORITHMS.md §3.2; the CPU
// statement is native/cpu/weibull_reward.cc), one thread per row over the ragged offsets:
//   s = exp(mean log max(p, 1e-12)) | exp(sum log max(p, 1e-12)) | min p | p_K      (float64)
//   weibull R = s h(K), log h(n) = log C + log(k/lambda) + (k-1) log(n/lambda) - (n/lambda)^k
//   pspo_ff R = s ff(s, K);  linear R = s;  K < minSteps (or K = 0): R = 0.
// The offsets index into the scores, so each thread checks its row's pair before reading; the first
// decreasing pair and the first score outside [0, 1] are reported in the TypeScript layer's words
// (cuda/step_offsets.cuh).
// Bytes per launch: 4(R+1) + 4S + 4R; rows are a few steps long, so this is latency-bound (one
// launch); a thread's reads of its row are contiguous but not coalesced across the warp.
#include "weibull_reward.h"

#include "step_offsets.cuh"

namespace steprl::cuda {
namespace {


__device__ double aggregate_steps(const float* p, int64_t K, StepAggregate aggregate) {
  if (aggregate == StepAggregate::min) {
    double lo = p[0];
    for (int64_t j = 1; j < K; ++j) lo = fmin(lo, static_cast<double>(p[j]));
    return lo;
  }
  if (aggregate == StepAggregate::last) return p[K - 1];
  double log_sum = 0.0;
  for (int64_t j = 0; j < K; ++j) log_sum += log(fmax(static_cast<double>(p[j]), kStepScoreFloor));
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

__global__ void __launch_bounds__(kStepRowThreads)
weibull_reward_kernel(float* rewards,                                        // [R]
                      const float* scores, const int32_t* offsets,           // [S], [R+1]
                      int64_t R, int64_t S, RewardShaping shaping, StepAggregate aggregate, double k, double lambda,
                      double peak, int64_t min_steps, unsigned long long* bad_offset, unsigned long long* bad_score) {
  for_each_scored_row(scores, offsets, R, S, bad_offset, bad_score, [&](int64_t i, const float* p, int64_t K) {
    if (K == 0 || K < min_steps) {
      rewards[i] = 0.0f;
      return;
    }
    const double s = aggregate_steps(p, K, aggregate);
    const double n = static_cast<double>(K);
    double reward = s;
    if (shaping == RewardShaping::weibull) reward = s * weibull_shaping(n, k, lambda, peak);
    else if (shaping == RewardShaping::pspo_ff) reward = s * pspo_ff(s, n);
    rewards[i] = static_cast<float>(reward);
  });
}

}  // namespace

void weibull_reward_cuda(const WeibullRewardArgs& a) {
  run_scored_rows(a.step_scores, a.step_offsets, a.R, a.S, [&](unsigned long long* bad_offset, unsigned long long* bad_score) {
    STEPRL_LAUNCH(weibull_reward_kernel, step_row_blocks(a.R), kStepRowThreads, 0, stream(), a.rewards, a.step_scores,
                  a.step_offsets, a.R, a.S, a.shaping, a.aggregate, a.k, a.lambda, a.peak, a.min_steps, bad_offset, bad_score);
  });
}

}  // namespace steprl::cuda
