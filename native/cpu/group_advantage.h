// group_advantage.h: group-relative outcome advantages (GRPO; ALGORITHMS.md §1.5, §6.4, §8.7).
//   A_i = (r_i − μ_g) / (σ_g + eps)   ('std'),   A_i = r_i − μ_g   ('none', Dr. GRPO)
// for the group g = groupIds[i]. Groups are keyed by id (any int32, rows of a group anywhere);
// μ and σ are two-pass float64 sums in row order (σ unbiased, divisor G−1, or population, G).
// Singleton groups use μ = 0, σ = 1 (verl); a group whose rewards are all equal gets A = 0 exactly.
// RLOO (leave_one_out; Ahmadian et al., arXiv 2402.14740): A_i = r_i − mean_{j∈g, j≠i} r_j
// = G/(G−1)·(r_i − μ_g), no σ; every group needs G ≥ 2 (the callers check it).
// O(R) scalar math plus a sort: no SIMD, threads over groups.
#pragma once

#include <cstdint>

#include "../../include/steprl/group_advantage.h"

namespace steprl::cpu {

void group_advantage_cpu(const GroupAdvantageArgs& args, int64_t R);

// The first row (in row order) whose group has a single row, or -1: RLOO refuses such groups.
int64_t first_singleton_row(const int32_t* group_ids, int64_t R);  // group_ids [R]

}  // namespace steprl::cpu
