// attention_avx512.cc: the blocked attention kernels instantiated for AVX512 (see
// attention_simd.inl and attention_tile.inl for the algorithm, vec_avx512.h for the vector ops).
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
  // dst[j * ld + i] = scale * rows[i][offset + j] for a 16 x 16 block: unpack, shuffle within
  // 128-bit lanes, then two rounds of 128-bit lane shuffles.
  static void transpose(const float* const* rows, int64_t offset, float* dst, int64_t ld, float scale) {
    F r[16], t[16];
    const F s = set1(scale);
    for (int i = 0; i < 16; ++i) r[i] = mul(_mm512_loadu_ps(rows[i] + offset), s);
    for (int i = 0; i < 8; ++i) {
      t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {
      r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
      r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
      r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
      r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 4; ++j) {
        t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
        t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
      }
    for (int j = 0; j < 8; ++j) {
      _mm512_storeu_ps(dst + j * ld, _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88));
      _mm512_storeu_ps(dst + (8 + j) * ld, _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd));
    }
  }
};
#include "attention_tile.inl"
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
