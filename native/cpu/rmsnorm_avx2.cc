// rmsnorm_avx2.cc: the RMSNorm kernels instantiated for AVX2 (see rmsnorm_simd.inl for the
// algorithm and vec_avx2.h for the vector operations).
#include <cmath>
#include <cstdint>

#include "rmsnorm.h"
#include "simd.h"

#if defined(STEPRL_X86)
#include <immintrin.h>

STEPRL_TARGET_BEGIN(STEPRL_ISA_AVX2)
namespace steprl::cpu {
namespace {
#include "vec_avx2.h"
#include "rmsnorm_simd.inl"
}  // namespace

void rmsnorm_forward_rows_avx2(const RmsnormForwardArgs& a, int64_t begin, int64_t end) {
  forward_rows<VecAvx2>(a, begin, end);
}
void rmsnorm_backward_rows_avx2(const RmsnormBackwardArgs& a, float* partial, int64_t begin, int64_t end) {
  backward_rows<VecAvx2>(a, partial, begin, end);
}
}  // namespace steprl::cpu
STEPRL_TARGET_END

#else  // not x86-64: never selected by simd_level(); defined so the dispatch links.
namespace steprl::cpu {
void rmsnorm_forward_rows_avx2(const RmsnormForwardArgs& a, int64_t begin, int64_t end) {
  rmsnorm_forward_rows_scalar(a, begin, end);
}
void rmsnorm_backward_rows_avx2(const RmsnormBackwardArgs& a, float* partial, int64_t begin, int64_t end) {
  rmsnorm_backward_rows_scalar(a, partial, begin, end);
}
}  // namespace steprl::cpu
#endif
