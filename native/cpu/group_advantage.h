// group_advantage.h: group-relative outcome advantages (GRPO; ALGORITHMS.md §1.5, §6.4, §8.7).
//   A_i = (r_i − μ_g) / (σ_g + eps)   ('std'),   A_i = r_i − μ_g   ('none', Dr. GRPO)
// for the group g = groupIds[i]. Groups are keyed by id (any int32, rows of a group anywhere);
// μ and σ are two-pass float64 sums in row order (σ unbiased, divisor G−1, or population, G).
// Singleton groups use μ = 0, σ = 1 (verl); a group whose rewards are all equal gets A = 0 exactly.
// O(R) scalar math plus a sort: no SIMD, threads over groups.
#pragma once

#include <cstdint>

namespace steprl::cpu {

struct GroupAdvantageArgs {
  float* advantages;         // [R]
  const float* rewards;      // [R]
  const int32_t* group_ids;  // [R]
  int scale_by_std;          // 'std' (1) or 'none' (0)
  int unbiased;              // divisor G−1 (1) or G (0)
  double eps;
};

void group_advantage_cpu(const GroupAdvantageArgs& args, int64_t R);

}  // namespace steprl::cpu
