// attention_avx512.cc: the blocked attention kernels instantiated for AVX512 (see
// attention_simd.inl for the algorithm and vec_avx512.h for the vector operations).
#include <cmath>
#include <cstdint>

#include "attention.h"
#include "simd.h"

#if defined(STEPRL_X86)
#include <immintrin.h>

STEPRL_TARGET_BEGIN(STEPRL_ISA_AVX512)
namespace steprl::cpu {
namespace {
#include "vec_avx512.h"
struct Vec : VecAvx512 {
  static constexpr int kTileVectors = 4;  // vectors per micro-tile row: kTileRows x 4 accumulators
  static F load_tail(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
};
#include "attention_simd.inl"
}  // namespace

void attention_forward_task_avx512(const AttentionForwardArgs& a, int64_t task) { forward_task(a, task); }
void attention_backward_task_avx512(const AttentionBackwardArgs& a, int64_t task) { backward_task(a, task); }
}  // namespace steprl::cpu
STEPRL_TARGET_END

#else  // not x86-64: never selected by simd_level(); defined so the dispatch links.
namespace steprl::cpu {
void attention_forward_task_avx512(const AttentionForwardArgs& a, int64_t task) { attention_forward_task_scalar(a, task); }
void attention_backward_task_avx512(const AttentionBackwardArgs& a, int64_t task) {
  attention_backward_task_scalar(a, task);
}
}  // namespace steprl::cpu
#endif
