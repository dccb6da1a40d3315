// vec_avx2.h: 8-lane fp32 vector operations (AVX2 + FMA) with the same interface as VecAvx512:
// everything the kernels of simd_kernels.inl need that differs per instruction set. Most tails
// (fewer than 8 lanes) go through a small stack buffer. Include only from an ISA translation unit
// (isa_avx2.cc), inside STEPRL_TARGET_BEGIN(STEPRL_ISA_AVX2) ... STEPRL_TARGET_END, in an
// anonymous namespace. What both instruction sets share is in vec_common.h.
#include "vec_common.h"

struct VecAvx2 : VecCommon<VecAvx2> {
  using F = __m256;
  using Mask = int;  // number of valid leading lanes
  static constexpr int kWidth = 8;
  static constexpr Mask kFull = 8;
  // Vectors per row of a register-blocked micro-tile (matmul_simd.inl, attention_tile.inl):
  // 6 rows x 2 accumulators, with the B vectors and a broadcast, fit the 16 ymm registers.
  static constexpr int kTileVectors = 2;

  static Mask tail(int64_t n) { return n >= 8 ? kFull : static_cast<Mask>(n); }
  static F set1(float x) { return _mm256_set1_ps(x); }
  static F zero() { return _mm256_setzero_ps(); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static F load(const uint16_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static F load(const float* p, Mask m, F fill) {
    alignas(32) float buffer[8];
    _mm256_store_ps(buffer, fill);
    for (int i = 0; i < m; ++i) buffer[i] = p[i];
    return _mm256_load_ps(buffer);
  }
  static F load(const uint16_t* p, Mask m, F fill) {
    alignas(32) float buffer[8];
    _mm256_store_ps(buffer, fill);
    for (int i = 0; i < m; ++i) {
      uint32_t bits = static_cast<uint32_t>(p[i]) << 16;
      __builtin_memcpy(&buffer[i], &bits, 4);
    }
    return _mm256_load_ps(buffer);
  }
  static __m256i lane_mask(Mask m) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  // The first m lanes of p, 0 in the others (maskload: fast on every AVX2 CPU).
  static F load_tail(const float* p, Mask m) { return _mm256_maskload_ps(p, lane_mask(m)); }
  static F keep(Mask m, F x) { return _mm256_and_ps(x, _mm256_castsi256_ps(lane_mask(m))); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }  // b when either is NaN
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static float reduce_add(F x) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float reduce_max(F x) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static void store(float* p, F x) { _mm256_storeu_ps(p, x); }
  static void store(float* p, Mask m, F x) { _mm256_maskstore_ps(p, lane_mask(m), x); }  // slow on AMD
  // The first N lanes of x to p: 6 as a 4 + 2 float store (no maskstore), others masked.
  template <int N>
  static void store_first(float* p, F x) {
    if constexpr (N == 6) {
      _mm_storeu_ps(p, _mm256_castps256_ps128(x));
      _mm_store_sd(reinterpret_cast<double*>(p + 4), _mm_castps_pd(_mm256_extractf128_ps(x, 1)));
    } else {
      store(p, N, x);
    }
  }
  static void stream(float* p, F x) { _mm256_stream_ps(p, x); }  // p 32-byte aligned
  static void fence() { _mm_sfence(); }
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }

  // Element-wise kernels (kl_penalty, policy_loss): arithmetic, per-lane booleans `B` (all-ones
  // lanes), uint8 loads.
  using B = __m256;
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F min(F a, F b) { return _mm256_min_ps(a, b); }
  static F abs(F x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }
  static F neg(F x) { return _mm256_xor_ps(x, _mm256_set1_ps(-0.0f)); }
  template <int P>
  static B cmp(F a, F b) { return _mm256_cmp_ps(a, b, P); }  // lt, le, ... in vec_common.h
  static B both(B a, B b) { return _mm256_and_ps(a, b); }
  static B either(B a, B b) { return _mm256_or_ps(a, b); }
  static B but_not(B a, B b) { return _mm256_andnot_ps(b, a); }
  static F select(B m, F if_true, F if_false) { return _mm256_blendv_ps(if_false, if_true, m); }
  static bool any(B m) { return _mm256_movemask_ps(m) != 0; }
  static F load(const uint8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static F load(const uint8_t* p, Mask m, F fill) {
    alignas(32) float buffer[8];
    _mm256_store_ps(buffer, fill);
    for (int i = 0; i < m; ++i) buffer[i] = static_cast<float>(p[i]);
    return _mm256_load_ps(buffer);
  }

  static F round(F x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // p * 2^n for integral n with n + 127 in [0, 254]: n + 127 written into the exponent field.
  static F times_pow2(F p, F n) {
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
  }

  // 2^t for any t <= 127 (-inf gives 0, NaN stays NaN): t is clamped at -127, where the exponent
  // field (n + 127) is 0 and so is the result; degree-5 polynomial for 2^f on [-0.5, 0.5].
  static F exp2(F t) {
    t = _mm256_max_ps(set1(-127.0f), t);  // max returns its second operand for NaN
    const F n = round(t);
    const F p = horner(_mm256_sub_ps(t, n), {1.3276735553517938e-3f, 9.675638750195503e-3f, 5.550713092088699e-2f,
                                             2.4022117257118225e-1f, 6.931469440460205e-1f, 1.0f});
    return times_pow2(p, n);
  }

  static F interleave_lo(F a, F b) { return _mm256_unpacklo_ps(a, b); }
  static F interleave_hi(F a, F b) { return _mm256_unpackhi_ps(a, b); }
  template <int Imm>
  static F shuffle(F a, F b) { return _mm256_shuffle_ps(a, b, Imm); }
  // In-register transpose of 8 x 8 floats: r[i][j] -> r[j][i].
  static void transpose(F r[8]) {
    F u[8];
    transpose_in_lanes(r, u);
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
      r[q] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x20);
      r[4 + q] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x31);
    }
  }
};
