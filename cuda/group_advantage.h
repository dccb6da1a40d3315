// group_advantage.h: launcher of the groupAdvantages CUDA kernels (cuda/group_advantage.cu),
// callable from host code that includes no CUDA header (native/ops/group_advantage.cc).
//   A_i = (r_i - mu_g) / (sigma_g + eps)  ('std')  or  r_i - mu_g  ('none'),  g = groupIds[i],
//   or RLOO's r_i - mean of the others = G/(G-1) (r_i - mu_g)  ('rloo', groups of G >= 2)
// with the semantics of native/cpu/group_advantage.h (ALGORITHMS.md §1.5): groups keyed by any
// int32 id, float64 two-pass statistics, G = 1 -> mu = 0, sigma = 1, all-equal groups -> A = 0.
#pragma once

#include <cstdint>

#include "../include/steprl/group_advantage.h"

namespace steprl::cuda {

// Queues the kernels and waits for them (a non-finite reward throws the TypeScript layer's
// ArgumentError, naming the first such index and its value; so does a singleton group with
// leave_one_out, naming its lowest row).
void group_advantage_cuda(const GroupAdvantageArgs& args);

}  // namespace steprl::cuda
