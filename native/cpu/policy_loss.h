// policy_loss.h: the clipped-surrogate policy loss with an optional KL term, aggregated into a
// scalar, and its gradient with respect to the policy log-probs (ALGORITHMS.md §1.1-§1.4, §1.7).
//   ρ = exp(clamp(ℓ − ℓold, −20, 20));  ψ = max(−Aρ, −A·clip(ρ, 1−εlow, 1+εhigh)), and for A < 0 with
//   a dual clip c: ψ = min(ψ, −A·c);  gψ = −Aρ where the unclipped branch is active (§1.2, ties
//   active), 0 where a clip or the ratio clamp acts;  κ, ∂κ/∂ℓ as in kl_penalty.h.
//   loss = s·Σ w(ψ + β·κ),  dℓ = s·w·(gψ + β·∂κ/∂ℓ),  w[i,t] = m[i,t]·c_i with c_i from the
//   aggregation (§1.4), s = lossScale. Element-wise over [R,T] (SIMD with runtime dispatch);
//   each row's sums are kept apart and combined in row order, so results do not depend on threads.
// Other loss modes (docs/ALGORITHMS-baselines.md §B3, §B4) replace ψ and gψ, same weights and KL:
//   gspo        s_i = exp(clamp(Σ_t m(ℓ − ℓold)/L_i, ±20)), ψ = max(−A·s_i, −A·clip(s_i)) per token,
//               gradient through s_i: dℓ[i,t] = w_i·(Σ_u gψ(s_i, A[i,u]))/L_i on the row's tokens;
//   gspo-token  the same ψ with s_{i,t} = sg(s_i)·π/sg(π): dℓ[i,t] = w_i·gψ(s_i, A[i,t]);
//   cispo       ψ = −sg(clip(ρ, 1−εlow, 1+εhigh))·A·ℓ, dℓ = −w·clip(ρ)·A: no token loses its gradient.
// These run the scalar rows on every SIMD level (one pass more per row for the sequence ratio).
#pragma once

#include <cstdint>
#include <vector>

#include "../../include/steprl/policy_loss.h"

#include "kl_penalty.h"

namespace steprl::cpu {

// "token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm".
bool loss_aggregation_from_name(const char* name, LossAggregation* out);

// "clip", "gspo", "gspo-token", "cispo".
bool policy_loss_mode_from_name(const char* name, PolicyLossMode* out);

// One row's masked, unweighted sums.
struct PolicyLossRowSums {
  double psi, kl, clipped, approx_kl, tokens;
};

PolicyLossResult policy_loss_cpu(const PolicyLossArgs& args, int64_t R);

// The pieces of policy_loss_cpu, for callers that run the rows in parts (cpu/linear_policy_loss.cc):
// s·c_i of every row (they depend only on the mask and the options), the rows kernel of a mode at
// the active SIMD level, and the row-order combination of the per-row sums into the result.
std::vector<double> policy_loss_row_weights(const PolicyLossArgs& args, int64_t R);
using PolicyLossRowsKernel = void (*)(const PolicyLossArgs&, const float*, PolicyLossRowSums*, int64_t, int64_t);
PolicyLossRowsKernel policy_loss_rows_kernel(PolicyLossMode mode);
PolicyLossResult policy_loss_combine(const PolicyLossArgs& args, const double* weights, const PolicyLossRowSums* sums,
                                     int64_t R);

// One implementation per instruction set, over rows [begin, end); row r's gradient is scaled by
// weights[r] = s·c_r and its sums go to sums[r].
void policy_loss_rows_scalar(const PolicyLossArgs& args, const float* weights, PolicyLossRowSums* sums,
                             int64_t begin, int64_t end);
void policy_loss_rows_avx2(const PolicyLossArgs& args, const float* weights, PolicyLossRowSums* sums,
                           int64_t begin, int64_t end);
// The gspo, gspo-token and cispo modes (scalar on every SIMD level).
void policy_loss_rows_modes(const PolicyLossArgs& args, const float* weights, PolicyLossRowSums* sums,
                            int64_t begin, int64_t end);
void policy_loss_rows_avx512(const PolicyLossArgs& args, const float* weights, PolicyLossRowSums* sums,
                             int64_t begin, int64_t end);

constexpr int64_t kPolicyLossBlock = 256;   // SIMD paths sum in float this many tokens, then in double

}  // namespace steprl::cpu
