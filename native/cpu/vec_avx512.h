// vec_avx512.h: 16-lane fp32 vector operations for the kernels of simd_kernels.inl, written once
// over a `Vec` type: everything they need that differs per instruction set. Include only from an
// ISA translation unit (isa_avx512.cc), inside STEPRL_TARGET_BEGIN(STEPRL_ISA_AVX512) ...
// STEPRL_TARGET_END, in an anonymous namespace (see simd.h). What both instruction sets share is
// in vec_common.h.
#include "vec_common.h"

struct VecAvx512 : VecCommon<VecAvx512> {
  using F = __m512;
  using Mask = __mmask16;
  static constexpr int kWidth = 16;
  static constexpr Mask kFull = 0xFFFF;
  // Vectors per row of a register-blocked micro-tile (matmul_simd.inl, attention_tile.inl):
  // 6 rows x 4 accumulators of the 32 zmm registers.
  static constexpr int kTileVectors = 4;

  static Mask tail(int64_t n) { return n >= 16 ? kFull : static_cast<Mask>((1u << n) - 1u); }
  static F set1(float x) { return _mm512_set1_ps(x); }
  static F zero() { return _mm512_setzero_ps(); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static F load(const uint16_t* p) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static F load(const float* p, Mask m, F fill) { return _mm512_mask_loadu_ps(fill, m, p); }
  static F load(const uint16_t* p, Mask m, F fill) {
    const __m256i h = _mm256_maskz_loadu_epi16(m, p);
    return _mm512_mask_blend_ps(m, fill, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
  }
  static F load_tail(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }  // 0 past m
  static F keep(Mask m, F x) { return _mm512_maskz_mov_ps(m, x); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }  // b when either is NaN
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static float reduce_add(F x) { return _mm512_reduce_add_ps(x); }
  static float reduce_max(F x) { return _mm512_reduce_max_ps(x); }
  static void store(float* p, F x) { _mm512_storeu_ps(p, x); }
  static void store(float* p, Mask m, F x) { _mm512_mask_storeu_ps(p, m, x); }
  template <int N>
  static void store_first(float* p, F x) { store(p, static_cast<Mask>((1u << N) - 1u), x); }
  static void stream(float* p, F x) { _mm512_stream_ps(p, x); }  // p 64-byte aligned
  static void fence() { _mm_sfence(); }
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }

  // Element-wise kernels (kl_penalty, policy_loss): arithmetic, per-lane booleans `B`, uint8 loads.
  using B = __mmask16;
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F min(F a, F b) { return _mm512_min_ps(a, b); }
  static F abs(F x) { return _mm512_abs_ps(x); }
  static F neg(F x) { return _mm512_xor_ps(x, _mm512_set1_ps(-0.0f)); }  // avx512dq
  template <int P>
  static B cmp(F a, F b) { return _mm512_cmp_ps_mask(a, b, P); }  // lt, le, ... in vec_common.h
  static B both(B a, B b) { return static_cast<B>(a & b); }
  static B either(B a, B b) { return static_cast<B>(a | b); }
  static B but_not(B a, B b) { return static_cast<B>(a & ~b); }
  static F select(B m, F if_true, F if_false) { return _mm512_mask_blend_ps(m, if_false, if_true); }
  static bool any(B m) { return m != 0; }
  static F load(const uint8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static F load(const uint8_t* p, Mask m, F fill) {
    return _mm512_mask_blend_ps(m, fill, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p))));
  }

  static F round(F x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static F times_pow2(F p, F n) { return _mm512_scalef_ps(p, n); }  // p * 2^floor(n)

  // 2^t for any t (-inf gives 0, NaN stays NaN): f = t - floor(t) by vreduceps, a degree-5
  // polynomial for 2^f on [0, 1] (max rel. error 1.7e-7), and vscalefps multiplies by
  // 2^floor(t) itself, so no clamp, round or integer exponent arithmetic is needed.
  static F exp2(F t) {
    const F f = _mm512_reduce_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    const F p = horner(f, {1.8775912467390299e-3f, 8.989362977445126e-3f, 5.582623556256294e-2f,
                           2.4015367031097412e-1f, 6.931530833244324e-1f, 9.999999403953552e-1f});
    return times_pow2(p, t);
  }

  static F interleave_lo(F a, F b) { return _mm512_unpacklo_ps(a, b); }
  static F interleave_hi(F a, F b) { return _mm512_unpackhi_ps(a, b); }
  template <int Imm>
  static F shuffle(F a, F b) { return _mm512_shuffle_ps(a, b, Imm); }
  // In-register transpose of 16 x 16 floats: r[i][j] -> r[j][i] (two in-lane steps, then two
  // 128-bit lane shuffles).
  static void transpose(F r[16]) {
    F u[16];
    transpose_in_lanes(r, u);
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {  // u[4g + q], lane L = column 4L + q of rows 4g .. 4g+3
      const F x0 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x44);
      const F x1 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xEE);
      const F y0 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x44);
      const F y1 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xEE);
      r[q] = _mm512_shuffle_f32x4(x0, y0, 0x88);
      r[4 + q] = _mm512_shuffle_f32x4(x0, y0, 0xDD);
      r[8 + q] = _mm512_shuffle_f32x4(x1, y1, 0x88);
      r[12 + q] = _mm512_shuffle_f32x4(x1, y1, 0xDD);
    }
  }
};
