// gae.h: generalized advantage estimation for PPO with a critic (ALGORITHMS.md §1.8; TRL's legacy
// PPOTrainer.compute_advantages). With rewards and values masked (r·m, V·m) and V_T = 0:
//   δ_t = r_t + γ·V_{t+1} − V_t,   Â_t = δ_t + γλ·Â_{t+1},   returns G_t = (Â_t + V_t)·m_t,
// a reverse linear recurrence per row in float64 (rows of any length: right padding just adds
// zeros). Whitening (TRL masked_whiten, shift_mean = True) over every token with m = 1 of the
// batch: Â ← (Â − mean)/sqrt(var + 1e-8), var with Bessel's factor n/(n − 1) (a batch of one
// token uses var = 0); Â = 0 on padding. The statistics are float64 two-pass sums of the stored
// float32 Â: per-row partials combined in row order, so any thread count gives the same bits.
#pragma once

#include <cstdint>

#include "../../include/steprl/gae.h"

namespace steprl::cpu {

void gae_cpu(const GaeArgs& args, int64_t R);

}  // namespace steprl::cpu
