// token_logprobs.h: log-probabilities of the sampled tokens from logits, forward and backward.
//
// With y = z/tau and logZ = logsumexp_v(y_v):  logprob = y[target] - logZ,
// entropy H = -sum_v p_v log p_v with p = softmax(y),
// dz_v = (g * (1[v=target] - p_v) - gH * p_v * (y_v - logZ + H)) / tau      (ALGORITHMS.md §0, §1.9)
// for upstream gradients g = dlogprobs, gH = dentropy. The forward reads every row once (online
// log-sum-exp over L1-sized blocks); no [R,V] temporary exists in either direction.
#pragma once

#include <cstdint>

namespace steprl::cpu {

struct TokenLogprobsForwardArgs {
  float* logprobs;            // [R]
  float* logz;                // [R]  logsumexp of logits/tau
  float* entropy;             // [R]  or nullptr
  const void* logits;         // [R,V] float32, or bfloat16 bits when logits_bf16
  int logits_bf16;
  const int32_t* targets;     // [R]  in [0, V)
  int64_t V;
  float inv_temperature;
};

struct TokenLogprobsBackwardArgs {
  float* dlogits;             // [R,V]
  const void* logits;         // [R,V] float32, or bfloat16 bits when logits_bf16
  int logits_bf16;
  const int32_t* targets;     // [R]
  const float* logz;          // [R]  from the forward
  const float* dlogprobs;     // [R]
  const float* entropy;       // [R]  or nullptr (recomputed when dentropy needs it)
  const float* dentropy;      // [R]  or nullptr
  int64_t V;
  float inv_temperature;
  int streaming_stores;       // write dlogits around the caches (large outputs)
};

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
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2 = 0.693147180559945309f;
// exp2 arguments are clamped here: 2^-200 underflows to exactly 0, so -inf logits give p = 0
// and p * log p = 0 without special cases.
constexpr float kExp2Floor = -200.0f;

}  // namespace steprl::cpu
