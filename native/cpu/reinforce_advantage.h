// reinforce_advantage.h: REINFORCE++ and REINFORCE++-baseline advantages (Hu et al., arXiv
// 2501.03262; OpenRLHF's advantage_estimator "reinforce" / "reinforce_baseline";
// docs/ALGORITHMS-baselines.md §B2). No critic:
//   r̃_i = r_i  (or r_i − μ_g, the group mean, for the baseline variant; a one-row group keeps r̃ = r,
//          and an all-equal group gets r̃ = 0 exactly, as groupAdvantages)
//   ρ[i,t] = −β·(ℓold − ℓref)·m[i,t]  (k1 KL folded into the reward)  + r̃_i at t = L_i − 1
//   G[i,t] = Σ_{t' ≥ t} γ^{t'−t}·ρ[i,t']  (0 on padding)             the returns
//   A = (G − mean_m G)·rsqrt(max(var_m G, 1e-8))  over every valid token of the batch (population
//   variance, as OpenRLHF); A = 0 on padding.
// Float64 recurrences and statistics: row partials combined in row order, so the same bits for any
// thread count.
#pragma once

#include <cstdint>

namespace steprl::cpu {

struct ReinforceAdvantageArgs {
  float* advantages;           // [R,T]  0 where m = 0
  float* returns;              // [R,T]  0 where m = 0
  const float* rewards;        // [R]    outcome reward per row
  const int32_t* group_ids;    // [R]    or nullptr: no baseline (REINFORCE++)
  const float* old_logprobs;   // [R,T]  or nullptr when kl_coef = 0
  const float* ref_logprobs;   // [R,T]  or nullptr when kl_coef = 0
  const void* mask;            // [R,T]  float32, or uint8 when mask_u8; values 0/1
  bool mask_u8;
  int64_t T;
  double kl_coef, gamma;
  bool normalize;
};

constexpr double kReinforceVarianceFloor = 1e-8;

void reinforce_advantage_cpu(const ReinforceAdvantageArgs& args, int64_t R);

}  // namespace steprl::cpu
