// steprl/prl_advantage.h: what the CPU (native/cpu/prl_advantage.h) and CUDA (cuda/prl_advantage.h)
// launchers of prlAdvantage share (ALGORITHMS.md §4.3; the math is stated in the CPU header).
#pragma once

#include <cstdint>

namespace steprl {

enum class PrlMode : int { step = 0, token = 1 };

struct PrlAdvantageArgs {
  float* advantages;                // [R,T]  0 where m = 0
  const float* outcome_advantages;  // [R]    Â_i
  const float* old_logprobs;        // [R,T]  ℓold
  const float* ref_logprobs;        // [R,T]  ℓref
  const void* mask;                 // [R,T]  float32, or uint8 when mask_u8; values 0/1 (checked on cuda)
  bool mask_u8;
  const uint8_t* step_ends;         // [R,T]  nonzero on the last token of a step; may be null in token mode
  int64_t T;
  double eta;                       // η > 0
  PrlMode mode;
  bool next_step;                   // suffixStart 'next_step' (S from e + 1) instead of 'inclusive'
  int64_t R;
};

}  // namespace steprl
