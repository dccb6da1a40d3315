// attention_avx2.cc: the blocked attention kernels instantiated for AVX2 (see
// attention_simd.inl and attention_tile.inl for the algorithm, vec_avx2.h for the vector ops).
#include <cmath>
#include <cstdint>

#include "attention.h"
#include "simd.h"

#if defined(STEPRL_X86)
#include <immintrin.h>

STEPRL_TARGET_BEGIN(STEPRL_ISA_AVX2)
namespace steprl::cpu {
namespace {
#include "vec_avx2.h"
struct Vec : VecAvx2 {
  static constexpr int kTileVectors = 2;  // vectors per micro-tile row: kTileRows x 2 accumulators
  static F load_tail(const float* p, Mask m) { return _mm256_maskload_ps(p, lane_mask(m)); }
  // dst[j * ld + i] = scale * rows[i][offset + j] for an 8 x 8 block.
  static void transpose(const float* const* rows, int64_t offset, float* dst, int64_t ld, float scale) {
    F r[8], t[8];
    const F s = set1(scale);
    for (int i = 0; i < 8; ++i) r[i] = mul(_mm256_loadu_ps(rows[i] + offset), s);
    for (int i = 0; i < 4; ++i) {
      t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; ++i) {
      r[4 * i + 0] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
      r[4 * i + 1] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
      r[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
      r[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int j = 0; j < 4; ++j) {
      _mm256_storeu_ps(dst + j * ld, _mm256_permute2f128_ps(r[j], r[4 + j], 0x20));
      _mm256_storeu_ps(dst + (4 + j) * ld, _mm256_permute2f128_ps(r[j], r[4 + j], 0x31));
    }
  }
};
#include "attention_tile.inl"
#include "attention_simd.inl"
}  // namespace

void attention_forward_task_avx2(const AttentionForwardArgs& a, int64_t task) { forward_task(a, task); }
void attention_backward_task_avx2(const AttentionBackwardArgs& a, int64_t task) { backward_task(a, task); }
}  // namespace steprl::cpu
STEPRL_TARGET_END

#else  // not x86-64: never selected by simd_level(); defined so the dispatch links.
namespace steprl::cpu {
void attention_forward_task_avx2(const AttentionForwardArgs& a, int64_t task) { attention_forward_task_scalar(a, task); }
void attention_backward_task_avx2(const AttentionBackwardArgs& a, int64_t task) {
  attention_backward_task_scalar(a, task);
}
}  // namespace steprl::cpu
#endif
