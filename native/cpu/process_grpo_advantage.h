// process_grpo_advantage.h: process-supervised GRPO token advantages (DeepSeekMath §4.1.3;
// ALGORITHMS.md §1.6). Row i owns the steps j ∈ [stepOffsets[i], stepOffsets[i+1]), each with a
// reward r_j and the token index e_j of its last token.
//   R_g = every step reward of every row of group g (groups keyed by id);
//   r̃_j = (r_j − mean(R_g)) / (std(R_g) + eps), std unbiased, both float64 two-pass in row order;
//         |R_g| ≤ 1 or std(R_g) = 0 gives r̃ = 0;
//   A[i,t] = Σ_{j of row i : e_j ≥ t} r̃_j · m[i,t]   (scatter onto e_j, inclusive reverse cumsum).
// The step ends of a row must be non-decreasing and lie in [0, L_i) (L_i: one past the row's last
// token with m = 1); they are checked before anything is written. Threads over groups.
#pragma once

#include <cstdint>

#include "../../include/steprl/process_grpo_advantage.h"

namespace steprl::cpu {

// Throws steprl::ArgumentError (include/steprl/errors.h) for step ends out of [0, L_i) or out of order,
// in the TypeScript layer's words; nothing is written then.
void process_grpo_advantage_cpu(const ProcessGrpoAdvantageArgs& args, int64_t R);

}  // namespace steprl::cpu
