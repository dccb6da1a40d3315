// token_logprobs_avx512.cc: the token log-prob kernels instantiated for AVX512 (see
// token_logprobs_simd.inl for the algorithm and vec_avx512.h for the vector operations).
#include <cmath>
#include <cstdint>

#include "simd.h"
#include "token_logprobs.h"

#if defined(STEPRL_X86)
#include <immintrin.h>

STEPRL_TARGET_BEGIN(STEPRL_ISA_AVX512)
namespace steprl::cpu {
namespace {
#include "vec_avx512.h"
#include "token_logprobs_simd.inl"
}  // namespace

void token_logprobs_forward_rows_avx512(const TokenLogprobsForwardArgs& a, int64_t begin, int64_t end) {
  if (a.logits_bf16) forward_rows<VecAvx512, uint16_t>(a, begin, end);
  else forward_rows<VecAvx512, float>(a, begin, end);
}

void token_logprobs_backward_rows_avx512(const TokenLogprobsBackwardArgs& a, int64_t begin, int64_t end) {
  if (a.logits_bf16) backward_rows<VecAvx512, uint16_t>(a, begin, end);
  else backward_rows<VecAvx512, float>(a, begin, end);
}
}  // namespace steprl::cpu
STEPRL_TARGET_END

#else  // not x86-64: never selected by simd_level(); defined so the dispatch links.
namespace steprl::cpu {
void token_logprobs_forward_rows_avx512(const TokenLogprobsForwardArgs& a, int64_t begin, int64_t end) {
  token_logprobs_forward_rows_scalar(a, begin, end);
}
void token_logprobs_backward_rows_avx512(const TokenLogprobsBackwardArgs& a, int64_t begin, int64_t end) {
  token_logprobs_backward_rows_scalar(a, begin, end);
}
}  // namespace steprl::cpu
#endif
