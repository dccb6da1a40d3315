// prl_advantage.h: PRL process advantages from the policy/reference log-ratio (ALGORITHMS.md §4.3).
//   d[i,t] = m·(ℓold − ℓref),  S[i,t] = Σ_{t' ≥ t} d[i,t']  (an explicit reverse scan in float64,
//   never total − prefix),  step ends E_i = {t : stepEnds[i,t] = 1} ∪ {L_i − 1},
//   v[i,e] = Â_i − S[i,e]/η  ('inclusive')  or  Â_i − S[i,e+1]/η  ('next_step'),
//   A[i,t] = v[i, min{e ∈ E_i : e ≥ t}]·m[i,t].
// 'token' mode makes every token with m = 1 a step end (A = Â_i − S/η per token, §4.3's token-level
// variant, with the same suffixStart rule). A step value that is exactly 0 is kept (the reference's
// "next non-zero" fill is not reproduced). O(T) per row, threads over rows.
#pragma once

#include <cstdint>

#include "../../include/steprl/prl_advantage.h"

namespace steprl::cpu {

void prl_advantage_cpu(const PrlAdvantageArgs& args, int64_t R);

}  // namespace steprl::cpu
