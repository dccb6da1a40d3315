// vec_avx512.h: 16-lane fp32 vector operations for kernels written once over a `Vec` type.
// Include only inside STEPRL_TARGET_BEGIN(STEPRL_ISA_AVX512) ... STEPRL_TARGET_END, and only from
// an ISA translation unit, inside an anonymous namespace (see simd.h).
struct VecAvx512 {
  using F = __m512;
  using Mask = __mmask16;
  static constexpr int kWidth = 16;
  static constexpr Mask kFull = 0xFFFF;

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
  static F keep(Mask m, F x) { return _mm512_maskz_mov_ps(m, x); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static float reduce_add(F x) { return _mm512_reduce_add_ps(x); }
  static float reduce_max(F x) { return _mm512_reduce_max_ps(x); }
  static void store(float* p, F x) { _mm512_storeu_ps(p, x); }
  static void store(float* p, Mask m, F x) { _mm512_mask_storeu_ps(p, m, x); }
  static void stream(float* p, F x) { _mm512_stream_ps(p, x); }  // p 64-byte aligned
  static void fence() { _mm_sfence(); }

  // 2^t for t >= -200: degree-5 polynomial on [-0.5, 0.5] (max rel. error 1.6e-7), then
  // vscalefps for 2^n, which flushes 2^-200 to exactly 0.
  static F exp2(F t) {
    const F n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const F f = _mm512_sub_ps(t, n);
    F p = set1(1.3276735553517938e-3f);
    p = fmadd(p, f, set1(9.675638750195503e-3f));
    p = fmadd(p, f, set1(5.550713092088699e-2f));
    p = fmadd(p, f, set1(2.4022117257118225e-1f));
    p = fmadd(p, f, set1(6.931469440460205e-1f));
    p = fmadd(p, f, set1(1.0f));
    return _mm512_scalef_ps(p, n);
  }
};
