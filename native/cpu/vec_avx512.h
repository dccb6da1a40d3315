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
  static F max(F a, F b) { return _mm512_max_ps(a, b); }  // b when either is NaN
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static float reduce_add(F x) { return _mm512_reduce_add_ps(x); }
  static float reduce_max(F x) { return _mm512_reduce_max_ps(x); }
  static void store(float* p, F x) { _mm512_storeu_ps(p, x); }
  static void store(float* p, Mask m, F x) { _mm512_mask_storeu_ps(p, m, x); }
  static void stream(float* p, F x) { _mm512_stream_ps(p, x); }  // p 64-byte aligned
  static void fence() { _mm_sfence(); }
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }

  // Element-wise kernels (kl_penalty, policy_loss): arithmetic, per-lane booleans `B`, uint8 loads.
  using B = __mmask16;
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F min(F a, F b) { return _mm512_min_ps(a, b); }
  static F abs(F x) { return _mm512_abs_ps(x); }
  static F neg(F x) { return _mm512_xor_ps(x, _mm512_set1_ps(-0.0f)); }  // avx512dq
  static B lt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static B le(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
  static B gt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static B ge(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static B ne(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_NEQ_UQ); }  // true for NaN, as `!=`
  static B both(B a, B b) { return static_cast<B>(a & b); }
  static B either(B a, B b) { return static_cast<B>(a | b); }
  static B but_not(B a, B b) { return static_cast<B>(a & ~b); }
  static F select(B m, F if_true, F if_false) { return _mm512_mask_blend_ps(m, if_false, if_true); }
  static F load(const uint8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static F load(const uint8_t* p, Mask m, F fill) {
    return _mm512_mask_blend_ps(m, fill, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p))));
  }

  // e^x (Cephes expf: Cody-Waite reduction by ln 2, degree-5 polynomial, about 1 ulp); x is
  // clamped to [-87, 88], inside the normal range.
  static F exp(F x) {
    x = min(max(x, set1(-87.0f)), set1(88.0f));
    const F n = _mm512_roundscale_ps(mul(x, set1(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const F r = fmadd(n, set1(2.12194440e-4f), fmadd(n, set1(-0.693359375f), x));
    F p = set1(1.9875691500e-4f);
    p = fmadd(p, r, set1(1.3981999507e-3f));
    p = fmadd(p, r, set1(8.3334519073e-3f));
    p = fmadd(p, r, set1(4.1665795894e-2f));
    p = fmadd(p, r, set1(1.6666665459e-1f));
    p = fmadd(p, r, set1(5.0000001201e-1f));
    p = fmadd(p, mul(r, r), add(r, set1(1.0f)));
    return _mm512_scalef_ps(p, n);
  }

  // 2^t for any t (-inf gives 0, NaN stays NaN): f = t - floor(t) by vreduceps, a degree-5
  // polynomial for 2^f on [0, 1] (max rel. error 1.7e-7), and vscalefps multiplies by
  // 2^floor(t) itself, so no clamp, round or integer exponent arithmetic is needed.
  static F exp2(F t) {
    const F f = _mm512_reduce_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    F p = set1(1.8775912467390299e-3f);
    p = fmadd(p, f, set1(8.989362977445126e-3f));
    p = fmadd(p, f, set1(5.582623556256294e-2f));
    p = fmadd(p, f, set1(2.4015367031097412e-1f));
    p = fmadd(p, f, set1(6.931530833244324e-1f));
    p = fmadd(p, f, set1(9.999999403953552e-1f));
    return _mm512_scalef_ps(p, t);
  }
};
