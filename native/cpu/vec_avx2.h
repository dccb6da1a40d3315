// vec_avx2.h: 8-lane fp32 vector operations (AVX2 + FMA) with the same interface as VecAvx512.
// Tails (fewer than 8 lanes) go through a small stack buffer. Include only inside
// STEPRL_TARGET_BEGIN(STEPRL_ISA_AVX2) ... STEPRL_TARGET_END, in an anonymous namespace.
struct VecAvx2 {
  using F = __m256;
  using Mask = int;  // number of valid leading lanes
  static constexpr int kWidth = 8;
  static constexpr Mask kFull = 8;

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
  static F keep(Mask m, F x) { return _mm256_and_ps(x, _mm256_castsi256_ps(lane_mask(m))); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
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
  static void store(float* p, Mask m, F x) { _mm256_maskstore_ps(p, lane_mask(m), x); }
  static void stream(float* p, F x) { _mm256_stream_ps(p, x); }  // p 32-byte aligned
  static void fence() { _mm_sfence(); }

  // 2^t for t >= -200: t is clamped at -127, where the exponent field (n + 127) is 0 and the
  // scale, so the result, is exactly 0; same polynomial as the AVX-512 path.
  static F exp2(F t) {
    t = _mm256_max_ps(t, set1(-127.0f));
    const F n = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const F f = _mm256_sub_ps(t, n);
    F p = set1(1.3276735553517938e-3f);
    p = fmadd(p, f, set1(9.675638750195503e-3f));
    p = fmadd(p, f, set1(5.550713092088699e-2f));
    p = fmadd(p, f, set1(2.4022117257118225e-1f));
    p = fmadd(p, f, set1(6.931469440460205e-1f));
    p = fmadd(p, f, set1(1.0f));
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
  }
};
