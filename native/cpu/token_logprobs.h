// token_logprobs.h: log-probabilities of the sampled tokens from logits, forward and backward.
//
// With y = z/tau and logZ = logsumexp_v(y_v):  logprob = y[target] - logZ,
// entropy H = -sum_v p_v log p_v with p = softmax(y),
// dz_v = (g * (1[v=target] - p_v) - gH * p_v * (y_v - logZ + H)) / tau      (ALGORITHMS.md §0, §1.9)
// for upstream gradients g = dlogprobs, gH = dentropy. The forward reads every row once (online
// log-sum-exp over L1-sized blocks); no [R,V] temporary exists in either direction.
#pragma once

#include <cstdint>

#include "../../include/steprl/token_logprobs.h"

namespace steprl::cpu {

// H >= 0, but ln s - ln2 * d / s cancels in float32 when one token holds all the mass (a 1-wide
// vocabulary gives -1.8e-8): rounding below 0 is clamped to +0, NaN (a row with no distribution)
// kept. Forward and backward (which recomputes H when it was not kept) clamp alike, so dentropy
// flows through the same H the forward returned; the clamp only removes rounding, so no gradient
// is cut (at a one-hot row the exact gradient of H is 0 anyway).
inline float clamp_entropy(float h) { return h <= 0.0f ? 0.0f : h; }

void token_logprobs_forward_cpu(const TokenLogprobsForwardArgs& args, int64_t R);
void token_logprobs_backward_cpu(const TokenLogprobsBackwardArgs& args, int64_t R);

// One implementation per instruction set, each over a range of rows.
void token_logprobs_forward_rows_scalar(const TokenLogprobsForwardArgs& args, int64_t begin, int64_t end);
void token_logprobs_forward_rows_avx2(const TokenLogprobsForwardArgs& args, int64_t begin, int64_t end);
void token_logprobs_forward_rows_avx512(const TokenLogprobsForwardArgs& args, int64_t begin, int64_t end);
void token_logprobs_backward_rows_scalar(const TokenLogprobsBackwardArgs& args, int64_t begin, int64_t end);
void token_logprobs_backward_rows_avx2(const TokenLogprobsBackwardArgs& args, int64_t begin, int64_t end);
void token_logprobs_backward_rows_avx512(const TokenLogprobsBackwardArgs& args, int64_t begin, int64_t end);

// Constants shared by every implementation so all paths agree to the last bit where they can.
constexpr int64_t kLogprobsBlock = 1024;   // elements per online-softmax block (4 KiB of fp32)

}  // namespace steprl::cpu
