// swiglu_avx512.cc: the SwiGLU kernels instantiated for AVX512 (see swiglu_simd.inl for the
// algorithm and vec_avx512.h for the vector operations).
#include <cmath>
#include <cstdint>

#include "simd.h"
#include "swiglu.h"

#if defined(STEPRL_X86)
#include <immintrin.h>

STEPRL_TARGET_BEGIN(STEPRL_ISA_AVX512)
namespace steprl::cpu {
namespace {
#include "vec_avx512.h"
struct Vec : VecAvx512 {
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
};
#include "swiglu_simd.inl"
}  // namespace

void swiglu_forward_rows_avx512(float* out, const float* inp, int64_t F, int64_t begin, int64_t end) {
  forward_rows<Vec>(out, inp, F, begin, end);
}
void swiglu_backward_rows_avx512(float* dinp, const float* dout, const float* inp, int64_t F, int64_t begin,
                               int64_t end) {
  backward_rows<Vec>(dinp, dout, inp, F, begin, end);
}
}  // namespace steprl::cpu
STEPRL_TARGET_END

#else  // not x86-64: never selected by simd_level(); defined so the dispatch links.
namespace steprl::cpu {
void swiglu_forward_rows_avx512(float* out, const float* inp, int64_t F, int64_t begin, int64_t end) {
  swiglu_forward_rows_scalar(out, inp, F, begin, end);
}
void swiglu_backward_rows_avx512(float* dinp, const float* dout, const float* inp, int64_t F, int64_t begin,
                               int64_t end) {
  swiglu_backward_rows_scalar(dinp, dout, inp, F, begin, end);
}
}  // namespace steprl::cpu
#endif
