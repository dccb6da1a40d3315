// weibull_reward.h: PSPO* sequence rewards from per-step PRM scores (ALGORITHMS.md §3.2, §2).
// Row i has the K steps scores[offsets[i] .. offsets[i+1]); K < minSteps (and K = 0) gives R = 0.
//   s̄ = geomean exp(mean log max(p, 1e-12)) | product exp(Σ log max(p, 1e-12)) | min p | last p_K
//   weibull:  R = s̄·h(K),  log h(n) = log C + log(k/λ) + (k−1)·log(n/λ) − (n/λ)^k
//   pspo_ff:  R = s̄·ff(s̄, K)  (the released code's shaping, §3.2);   linear: R = s̄
// O(S) scalar float64 math, threads over rows: nothing here is worth vectorizing.
#pragma once

#include <cstdint>

#include "../../include/steprl/weibull_reward.h"

namespace steprl::cpu {

bool reward_shaping_from_name(const char* name, RewardShaping* out);
bool step_aggregate_from_name(const char* name, StepAggregate* out);

void weibull_reward_cpu(const WeibullRewardArgs& args, int64_t R);

// The step-count shaping h(n) of the Weibull mode, and the released code's ff(s, n).
double weibull_shaping(double n, double k, double lambda, double peak);
double pspo_ff(double s, double n);

}  // namespace steprl::cpu
