// sampling_avx2.cc: the sampling row primitives instantiated for AVX2 (see sampling_simd.inl
// and vec_avx2.h).
#include <cmath>
#include <cstdint>

#include "sampling.h"
#include "simd.h"

#if defined(STEPRL_X86)
#include <immintrin.h>

STEPRL_TARGET_BEGIN(STEPRL_ISA_AVX2)
namespace steprl::cpu {
namespace {
#include "vec_avx2.h"
struct Vec : VecAvx2 {
  static B is_nan(F x) { return _mm256_cmp_ps(x, x, _CMP_UNORD_Q); }
  static bool any(B m) { return _mm256_movemask_ps(m) != 0; }
};
#include "sampling_simd.inl"
}  // namespace

SampleKernels sample_kernels_avx2() { return {row_max, exp2_sum, exp2_values, find_at_least}; }
}  // namespace steprl::cpu
STEPRL_TARGET_END

#else  // not x86-64: never selected by simd_level(); defined so the dispatch links.
namespace steprl::cpu {
SampleKernels sample_kernels_avx2() { return sample_kernels_scalar(); }
}  // namespace steprl::cpu
#endif
