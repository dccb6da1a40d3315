// process_grpo_advantage.h: launcher of the processGrpoAdvantages CUDA kernels
// (cuda/process_grpo_advantage.cu), callable from host code that includes no CUDA header
// (native/ops/process_grpo_advantage.cc). Semantics are those of
// native/cpu/process_grpo_advantage.h (ALGORITHMS.md §1.6): the group's step rewards pooled and
// normalized (unbiased std + eps; one step or std 0 → 0), A[i,t] = Σ_{e_j ≥ t} r̃_j · m.
#pragma once

#include <cstdint>

#include "../include/steprl/process_grpo_advantage.h"

namespace steprl::cuda {

// Queues the kernels and waits for them; bad input found on the device throws the TypeScript
// layer's ArgumentErrors in its order: stepOffsets, mask, stepEnds, stepRewards.
void process_grpo_advantage_cuda(const ProcessGrpoAdvantageArgs& args);

}  // namespace steprl::cuda
