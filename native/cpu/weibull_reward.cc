// weibull_reward.cc: PSPO* step aggregation and shaping (see weibull_reward.h). The offsets were
// checked by the caller (ops/weibull_reward.cc): monotone, from 0 to S, so every read is in range.
#include "weibull_reward.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "parallel.h"

namespace steprl::cpu {
namespace {

double aggregate_steps(const float* p, int64_t K, StepAggregate aggregate) {
  switch (aggregate) {
    case StepAggregate::min: {
      double lo = p[0];
      for (int64_t j = 1; j < K; ++j) lo = std::min(lo, static_cast<double>(p[j]));
      return lo;
    }
    case StepAggregate::last: return p[K - 1];
    default: break;
  }
  double log_sum = 0.0;
  for (int64_t j = 0; j < K; ++j) log_sum += std::log(std::max(static_cast<double>(p[j]), kStepScoreFloor));
  return std::exp(aggregate == StepAggregate::geomean ? log_sum / static_cast<double>(K) : log_sum);
}

}  // namespace

bool reward_shaping_from_name(const char* name, RewardShaping* out) {
  if (std::strcmp(name, "weibull") == 0) *out = RewardShaping::weibull;
  else if (std::strcmp(name, "pspo_ff") == 0) *out = RewardShaping::pspo_ff;
  else if (std::strcmp(name, "linear") == 0) *out = RewardShaping::linear;
  else return false;
  return true;
}

bool step_aggregate_from_name(const char* name, StepAggregate* out) {
  if (std::strcmp(name, "geomean") == 0) *out = StepAggregate::geomean;
  else if (std::strcmp(name, "product") == 0) *out = StepAggregate::product;
  else if (std::strcmp(name, "min") == 0) *out = StepAggregate::min;
  else if (std::strcmp(name, "last") == 0) *out = StepAggregate::last;
  else return false;
  return true;
}

double weibull_shaping(double n, double k, double lambda, double peak) {
  const double x = n / lambda;
  return std::exp(std::log(peak) + std::log(k / lambda) + (k - 1.0) * std::log(x) - std::pow(x, k));
}

// ff(s, n) = s·e^{n/2} for 0 < n <= 4; above, a sigmoid blend of b = s·e² and b·e^{g(s)(n−4)}.
double pspo_ff(double s, double n) {
  constexpr double kThreshold = 4.0, kGrowth = 0.1, kHigh = 0.88433, kLow = 0.2, kCentre = 0.21159;
  if (n <= kThreshold) return s * std::exp(0.5 * n);
  const double base = s * std::exp(0.5 * kThreshold);
  const double blend = 1.0 / (1.0 + std::exp(-10.0 * (n - kThreshold)));
  const double rate = s > kHigh ? kGrowth : (s > 0.0 && s < kLow) ? -kGrowth : kGrowth * (s - kCentre) / kHigh;
  return base * (1.0 - blend) + blend * base * std::exp(rate * (n - kThreshold));
}

void weibull_reward_cpu(const WeibullRewardArgs& a, int64_t R) {
  parallel_for(R, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t K = static_cast<int64_t>(a.step_offsets[i + 1]) - a.step_offsets[i];
      if (K == 0 || K < a.min_steps) {
        a.rewards[i] = 0.0f;
        continue;
      }
      const double s = aggregate_steps(a.step_scores + a.step_offsets[i], K, a.aggregate);
      const double n = static_cast<double>(K);
      double reward = s;
      if (a.shaping == RewardShaping::weibull) reward = s * weibull_shaping(n, a.k, a.lambda, a.peak);
      else if (a.shaping == RewardShaping::pspo_ff) reward = s * pspo_ff(s, n);
      a.rewards[i] = static_cast<float>(reward);
    }
  });
}

}  // namespace steprl::cpu
