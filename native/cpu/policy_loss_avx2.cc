// policy_loss_avx2.cc: the policy-loss rows instantiated for AVX2 (see policy_loss_simd.inl for
// the algorithm, kl_penalty_simd.inl for the KL term and vec_avx2.h for the vector operations).
#include <cmath>
#include <cstdint>

#include "policy_loss.h"
#include "simd.h"

#if defined(STEPRL_X86)
#include <immintrin.h>

STEPRL_TARGET_BEGIN(STEPRL_ISA_AVX2)
namespace steprl::cpu {
namespace {
#include "vec_avx2.h"
#include "kl_penalty_simd.inl"
#include "policy_loss_simd.inl"
}  // namespace

void policy_loss_rows_avx2(const PolicyLossArgs& a, const float* weights, PolicyLossRowSums* sums, int64_t begin,
                          int64_t end) {
  policy_loss_rows_simd<VecAvx2>(a, weights, sums, begin, end);
}
}  // namespace steprl::cpu
STEPRL_TARGET_END

#else  // not x86-64: never selected by simd_level(); defined so the dispatch links.
namespace steprl::cpu {
void policy_loss_rows_avx2(const PolicyLossArgs& a, const float* weights, PolicyLossRowSums* sums, int64_t begin,
                          int64_t end) {
  policy_loss_rows_scalar(a, weights, sums, begin, end);
}
}  // namespace steprl::cpu
#endif
