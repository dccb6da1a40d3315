// vec_common.h: the vector operations VecAvx2 and VecAvx512 share, written once over their
// primitives as a base class: struct VecAvx2 : VecCommon<VecAvx2>. The derived
// type supplies set1, add, mul, fmadd, min, max, cmp<predicate>, round (to nearest),
// times_pow2 (p * 2^n for integral n), interleave_lo/hi and shuffle<imm> (per 128-bit lane, as
// unpcklps/unpckhps/shufps), and kWidth. Included by vec_avx2.h and vec_avx512.h, so under the
// same rules (an ISA translation unit, inside an anonymous namespace). The vector type is deduced
// from the arguments (F), as a vector type given as a template argument loses its attributes.
#pragma once

template <typename V>
struct VecCommon {
  template <typename F>
  static auto lt(F a, F b) { return V::template cmp<_CMP_LT_OQ>(a, b); }
  template <typename F>
  static auto le(F a, F b) { return V::template cmp<_CMP_LE_OQ>(a, b); }
  template <typename F>
  static auto gt(F a, F b) { return V::template cmp<_CMP_GT_OQ>(a, b); }
  template <typename F>
  static auto ge(F a, F b) { return V::template cmp<_CMP_GE_OQ>(a, b); }
  template <typename F>
  static auto ne(F a, F b) { return V::template cmp<_CMP_NEQ_UQ>(a, b); }  // true for NaN, as `!=`
  template <typename F>
  static auto is_nan(F x) { return V::template cmp<_CMP_UNORD_Q>(x, x); }

  // c[0] x^(N-1) + c[1] x^(N-2) + ... + c[N-1], by Horner's rule with FMAs.
  template <typename F, int N>
  static F horner(F x, const float (&c)[N]) {
    F p = V::set1(c[0]);
#pragma GCC unroll 8
    for (int i = 1; i < N; ++i) p = V::fmadd(p, x, V::set1(c[i]));
    return p;
  }

  // e^x (Cephes expf: Cody-Waite reduction by ln 2, degree-5 polynomial, about 1 ulp); x is
  // clamped to [-87, 88], inside the normal range, so the exponent n + 127 stays in [1, 254].
  template <typename F>
  static F exp(F x) {
    x = V::min(V::max(x, V::set1(-87.0f)), V::set1(88.0f));
    const F n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
    const F r = V::fmadd(n, V::set1(2.12194440e-4f), V::fmadd(n, V::set1(-0.693359375f), x));
    const F p = horner(r, {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f,
                           1.6666665459e-1f, 5.0000001201e-1f});
    return V::times_pow2(V::fmadd(p, V::mul(r, r), V::add(r, V::set1(1.0f))), n);
  }

  // The first two steps of a kWidth x kWidth transpose, within 128-bit lanes: afterwards u[4g + q],
  // lane L, holds column 4L + q of rows 4g .. 4g+3. The derived transpose moves the lanes.
  template <typename F>
  static void transpose_in_lanes(const F* r, F* u) {
    constexpr int W = V::kWidth;
    F t[W];
#pragma GCC unroll 8
    for (int g = 0; g < W / 2; ++g) {
      t[2 * g] = V::interleave_lo(r[2 * g], r[2 * g + 1]);
      t[2 * g + 1] = V::interleave_hi(r[2 * g], r[2 * g + 1]);
    }
#pragma GCC unroll 4
    for (int g = 0; g < W / 4; ++g) {
      u[4 * g + 0] = V::template shuffle<0x44>(t[4 * g], t[4 * g + 2]);
      u[4 * g + 1] = V::template shuffle<0xEE>(t[4 * g], t[4 * g + 2]);
      u[4 * g + 2] = V::template shuffle<0x44>(t[4 * g + 1], t[4 * g + 3]);
      u[4 * g + 3] = V::template shuffle<0xEE>(t[4 * g + 1], t[4 * g + 3]);
    }
  }
};
