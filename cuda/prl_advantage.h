// prl_advantage.h: launcher of the prlAdvantages CUDA kernels (cuda/prl_advantage.cu), callable
// from host code that includes no CUDA header (native/ops/prl_advantage.cc). Semantics are those
// of native/cpu/prl_advantage.h (ALGORITHMS.md §4.3): S = inclusive reverse sum of m(ℓold − ℓref),
// step ends = stepEnds ∪ {L_i − 1} (every valid token in token mode), v = Â − S(e or e+1)/η,
// A[t] = v at the nearest step end ≥ t, times m.
#pragma once

#include <cstdint>

#include "../native/cpu/prl_advantage.h"

namespace steprl::cuda {

struct PrlAdvantageArgs {
  float* advantages;                // [R,T]
  const float* outcome_advantages;  // [R]
  const float* old_logprobs;        // [R,T]
  const float* ref_logprobs;        // [R,T]
  const void* mask;                 // [R,T] float32, or uint8 when mask_u8; 0/1 (checked)
  bool mask_u8;
  const uint8_t* step_ends;         // [R,T] or nullptr in token mode
  int64_t R, T;
  double eta;
  cpu::PrlMode mode;
  bool next_step;
};

// Queues the kernel and waits for it: a mask value other than 0 or 1 throws the TypeScript
// layer's ArgumentError with its first index.
void prl_advantage_cuda(const PrlAdvantageArgs& args);

}  // namespace steprl::cuda
