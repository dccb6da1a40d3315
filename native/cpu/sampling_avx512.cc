// sampling_avx512.cc: the sampling row primitives instantiated for AVX512 (see sampling_simd.inl
// and vec_avx512.h).
#include <cmath>
#include <cstdint>

#include "sampling.h"
#include "simd.h"

#if defined(STEPRL_X86)
#include <immintrin.h>

STEPRL_TARGET_BEGIN(STEPRL_ISA_AVX512)
namespace steprl::cpu {
namespace {
#include "vec_avx512.h"
struct Vec : VecAvx512 {
  static B is_nan(F x) { return _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q); }
  static bool any(B m) { return m != 0; }
};
#include "sampling_simd.inl"
}  // namespace

SampleKernels sample_kernels_avx512() { return {row_max, exp2_sum, exp2_values, find_at_least}; }
}  // namespace steprl::cpu
STEPRL_TARGET_END

#else  // not x86-64: never selected by simd_level(); defined so the dispatch links.
namespace steprl::cpu {
SampleKernels sample_kernels_avx512() { return sample_kernels_scalar(); }
}  // namespace steprl::cpu
#endif
