// steprl/policy_loss.h: what the CPU (native/cpu/policy_loss.h) and CUDA (cuda/policy_loss.h)
// launchers of policyLoss share: the enums, the arguments, the result and the ratio clamp
// (ALGORITHMS.md §1.1-§1.4, §1.7; the math is stated in native/cpu/policy_loss.h).
#pragma once

#include <cstdint>

#include "kl_penalty.h"

namespace steprl {

enum class LossAggregation : int {
  token_mean = 0,               // c = 1 / Σm (or tokenCount)
  seq_mean_token_mean = 1,      // c_i = 1 / (N·L_i)
  seq_mean_token_sum = 2,       // c = 1 / N
  seq_mean_token_sum_norm = 3,  // c = 1 / (N·T_max)  (Dr. GRPO)
};

enum class PolicyLossMode : int {
  clip = 0,        // PPO/GRPO clipped surrogate (§1.2)
  gspo = 1,        // GSPO, sequence-level ratio (arXiv 2507.18071)
  gspo_token = 2,  // GSPO-token
  cispo = 3,       // CISPO, clipped IS weight (arXiv 2506.13585)
};

struct PolicyLossArgs {
  float* dlogprobs;            // [R,T]  0 where the mask is 0
  const float* logprobs;       // [R,T]  ℓ
  const float* old_logprobs;   // [R,T]  ℓold
  const float* ref_logprobs;   // [R,T]  ℓref, or nullptr: no KL term and kl = 0
  const float* advantages;     // [R,T]  A
  const void* mask;            // [R,T]  float32, or uint8 when mask_u8; nonzero counts as 1 on the cpu,
                               //        values other than 0 and 1 throw on cuda
  bool mask_u8;
  int64_t T;
  float clip_low, clip_high;   // εlow, εhigh
  float dual_clip;             // c > 1, or +inf for no dual clip
  float kl_coef;               // β
  KlEstimator kl_estimator;
  LossAggregation aggregation;
  PolicyLossMode mode;
  double token_count;          // token-mean denominator, or 0 for Σm of this batch
  double row_count;            // N
  double max_length;           // T_max of seq-mean-token-sum-norm
  double loss_scale;           // s
  int64_t R;
};

struct PolicyLossResult {
  double loss, pg_loss, kl_loss;  // loss = pg_loss + kl_loss
  double clip_fraction;           // masked tokens with A != 0 whose gψ a clip or the clamp zeroed (cispo: whose
                                  // weight was clipped), / Σm
  double kl;                      // masked mean of κ
  double approx_kl;               // masked mean of ℓold − ℓ
};

constexpr float kRatioClamp = 20.0f;  // |ℓ − ℓold| above this: ρ is clamped, dρ/dℓ = 0 (verl)

}  // namespace steprl
