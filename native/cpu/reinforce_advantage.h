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

#include "../../include/steprl/reinforce_advantage.h"

namespace steprl::cpu {

void reinforce_advantage_cpu(const ReinforceAdvantageArgs& args, int64_t R);

}  // namespace steprl::cpu
