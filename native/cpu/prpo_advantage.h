// prpo_advantage.h: PRPO token advantages, PRM token scores aligned with the outcome by a location
// shift (ALGORITHMS.md §5.4, §6.4):
//   β_i = r_i − mean_{j∈g} r_j  (no std; a singleton group gives β = 0),  g = groupIds[i]
//   z[i,t] = (s[i,t] − μ0)/σ0   fixed prior (srpo2: μ0 = 0.5, σ0 = sqrt(1/24)), or
//            (s − μ_g)/(σ_g + eps) empirical (srpo4): μ_g and the unbiased σ_g of the scores
//            pooled over the valid tokens of every row of the group (float64 two-pass);
//   A[i,t] = (z[i,t] + β_i)·m[i,t].
// compat reproduces the reference quirk: the last valid token (t = L_i − 1) keeps s + β and is left
// out of the empirical pool. A pool of one token has σ_g = 0; σ_g + eps = 0 gives z = 0 (every
// pooled score then equals μ_g). Threads over groups; each group's sums run in row order.
#pragma once

#include <cstdint>

#include "../../include/steprl/prpo_advantage.h"

namespace steprl::cpu {

void prpo_advantage_cpu(const PrpoAdvantageArgs& args, int64_t R);

}  // namespace steprl::cpu
