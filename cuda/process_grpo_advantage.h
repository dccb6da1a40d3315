// process_grpo_advantage.h: launcher of the processGrpoAdvantages CUDA kernels
// (cuda/process_grpo_advantage.cu), callable from host code that includes no CUDA header
// (native/ops/process_grpo_advantage.cc). Semantics are those of
// native/cpu/process_grpo_advantage.h (ALGORITHMS.md §1.6): the group's step rewards pooled and
// normalized (unbiased std + eps; one step or std 0 → 0), A[i,t] = Σ_{e_j ≥ t} r̃_j · m.
#pragma once

#include <cstdint>

namespace steprl::cuda {

struct ProcessGrpoAdvantageArgs {
  float* advantages;            // [R,T]
  const float* step_rewards;    // [S]   finite (checked)
  const int32_t* step_ends;     // [S]   non-decreasing per row, in [0, L_i) (checked before use)
  const int32_t* step_offsets;  // [R+1] from 0 to S, non-decreasing (checked before any read)
  const int32_t* group_ids;     // [R]
  const void* mask;             // [R,T] float32, or uint8 when mask_u8; 0/1 (checked)
  bool mask_u8;
  int64_t R, T, S;              // R < 2^31
  double eps;
};

// Queues the kernels and waits for them; bad input found on the device throws the TypeScript
// layer's ArgumentErrors in its order: stepOffsets, mask, stepEnds, stepRewards.
void process_grpo_advantage_cuda(const ProcessGrpoAdvantageArgs& args);

}  // namespace steprl::cuda
