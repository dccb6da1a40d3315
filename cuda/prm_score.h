// prm_score.h: launcher of the prmScore CUDA kernel (cuda/prm_score.cu), callable from host code
// that includes no CUDA header (native/ops/prm_score.cc). Semantics are those of
// native/cpu/prm_score.h (ALGORITHMS.md §2): product / geomean (log space, p floored at 1e-12),
// min or last of each row's step scores; a row without steps gives NaN.
#pragma once

#include <cstdint>

#include "../include/steprl/prm_score.h"

namespace steprl::cuda {

// Queues the kernel and waits for it; malformed offsets or scores outside [0, 1] throw the
// TypeScript layer's ArgumentErrors in its order (offsets[0], monotonicity, offsets[R], scores).
void prm_score_cuda(const PrmScoreArgs& args);

}  // namespace steprl::cuda
