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

namespace steprl::cpu {

enum class PrlMode : int { step = 0, token = 1 };

struct PrlAdvantageArgs {
  float* advantages;                // [R,T]  0 where m = 0
  const float* outcome_advantages;  // [R]    Â_i
  const float* old_logprobs;        // [R,T]  ℓold
  const float* ref_logprobs;        // [R,T]  ℓref
  const void* mask;                 // [R,T]  float32, or uint8 when mask_u8; values 0/1
  bool mask_u8;
  const uint8_t* step_ends;         // [R,T]  nonzero on the last token of a step; may be null in token mode
  int64_t T;
  double eta;                       // η > 0
  PrlMode mode;
  bool next_step;                   // suffixStart 'next_step' (S from e + 1) instead of 'inclusive'
};

void prl_advantage_cpu(const PrlAdvantageArgs& args, int64_t R);

}  // namespace steprl::cpu
