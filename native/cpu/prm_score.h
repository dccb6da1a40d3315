// prm_score.h: solution scores from per-step PRM probabilities (Lightman et al. 2023;
// ALGORITHMS.md §2). Row i's K steps are p[offsets[i] .. offsets[i+1]), each in [0, 1]:
//   product  S = exp(Σ_k log max(p_k, 1e-12))   (the paper's definition, in log space)
//   geomean  S = exp((1/K) Σ_k log max(p_k, 1e-12))
//   min      S = min_k p_k;    last  S = p_K
// K = 0 gives NaN (the spec's CHOICE: the caller decides). float64 math, threads over rows.
#pragma once

#include <cstdint>

#include "../../include/steprl/prm_score.h"

#include "weibull_reward.h"  // StepAggregate, step_aggregate_from_name, kStepScoreFloor

namespace steprl::cpu {

void prm_score_cpu(const PrmScoreArgs& args, int64_t R);

}  // namespace steprl::cpu
