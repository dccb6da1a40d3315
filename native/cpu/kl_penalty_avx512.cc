// kl_penalty_avx512.cc: the KL estimators instantiated for AVX-512 (see kl_penalty_simd.inl for the
// algorithm and vec_avx512.h for the vector operations).
#include <cmath>
#include <cstdint>

#include "kl_penalty.h"
#include "simd.h"

#if defined(STEPRL_X86)
#include <immintrin.h>

STEPRL_TARGET_BEGIN(STEPRL_ISA_AVX512)
namespace steprl::cpu {
namespace {
#include "vec_avx512.h"
#include "kl_penalty_simd.inl"
}  // namespace

void kl_penalty_forward_span_avx512(const KlPenaltyArgs& a, int64_t begin, int64_t end) { kl_penalty_span<VecAvx512>(a, begin, end); }
}  // namespace steprl::cpu
STEPRL_TARGET_END

#else  // not x86-64: never selected by simd_level(); defined so the dispatch links.
namespace steprl::cpu {
void kl_penalty_forward_span_avx512(const KlPenaltyArgs& a, int64_t begin, int64_t end) {
  kl_penalty_forward_span_scalar(a, begin, end);
}
}  // namespace steprl::cpu
#endif
