// matmul_avx2.cc: the AVX2 + FMA micro-kernel behind sgemm (see matmul.h for the packed layout).
//
// One tile is kMR x (8 * kNV) floats of C in kMR * kNV ymm accumulators (6 x 16: 12 accumulators,
// 2 B vectors and a broadcast fit the 16 ymm registers). Per k step it loads kNV vectors of the
// packed B panel and broadcasts one element of A per row into an FMA. Partial tiles use the same
// loop with fewer rows / vectors (templates); a partial last vector goes through maskstore.
// Each C element sums k = 0..kc-1 in order with FMAs: deterministic. Packing uses maskload
// (fast on every AVX2 CPU, unlike maskstore on AMD) and 8 x 8 register transposes.
#include "matmul.h"
#include "simd.h"

#if defined(STEPRL_X86)
#include <immintrin.h>

STEPRL_TARGET_BEGIN(STEPRL_ISA_AVX2)

namespace steprl::cpu {
namespace {

constexpr int kMR = 6;
constexpr int kNV = 2;
constexpr int kNR = 8 * kNV;

using TileFn = void (*)(int64_t kc, const float* a, int64_t a_rs, int64_t a_ks, const float* b,
                        float* c, int64_t ldc, int64_t n, const float* alpha_beta);

// c[i*ldc + j] (i < M, j < n <= 8 * V) = alpha * sum_k a[i*a_rs + k*a_ks] * b[k*kNR + j] + beta*c.
template <int M, int V>
void tile(int64_t kc, const float* a, int64_t a_rs, int64_t a_ks, const float* b, float* c,
          int64_t ldc, int64_t n, const float* alpha_beta) {
  __m256 acc[M][V];
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[i][v] = _mm256_setzero_ps();

  for (int64_t k = 0; k < kc; ++k) {
    __m256 bv[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) bv[v] = _mm256_load_ps(b + 8 * v);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      const __m256 av = _mm256_broadcast_ss(a + i * a_rs);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[i][v] = _mm256_fmadd_ps(av, bv[v], acc[i][v]);
    }
    a += a_ks;
    b += kNR;
  }

  const int tail = static_cast<int>(n - 8 * (V - 1));  // 1..8 columns in the last vector
  const __m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256i all = _mm256_set1_epi32(-1);
  // alpha and beta arrive by pointer so that no register is pinned to them during the k loop.
  const float beta = alpha_beta[1];
  const __m256 alpha_v = _mm256_set1_ps(alpha_beta[0]);
  const __m256 beta_v = _mm256_set1_ps(beta);
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    float* row = c + i * ldc;
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) {
      const bool partial = v == V - 1 && tail < 8;
      const __m256i mask = partial ? last : all;
      __m256 out;
      if (beta == 0.0f) {
        out = _mm256_mul_ps(alpha_v, acc[i][v]);
      } else {
        const __m256 old = _mm256_maskload_ps(row + 8 * v, mask);
        out = _mm256_fmadd_ps(alpha_v, acc[i][v], _mm256_mul_ps(beta_v, old));
      }
      if (partial) _mm256_maskstore_ps(row + 8 * v, mask, out);  // slow on AMD: edges only
      else _mm256_storeu_ps(row + 8 * v, out);
    }
  }
}

template <int M>
TileFn pick(int64_t m, int64_t nv) {
  if (m == M) return nv == 2 ? tile<M, 2> : tile<M, 1>;
  if constexpr (M > 1) return pick<M - 1>(m, nv);
  return nullptr;
}

// Row panels outer, column panels inner (same order as the AVX-512 kernel).
void compute(const detail::GemmBlock& blk) {
  const float alpha_beta[2] = {blk.alpha, blk.beta};
  for (int64_t i = 0; i < blk.m; i += kMR) {
    const int64_t rows = blk.m - i < kMR ? blk.m - i : kMR;
    const float* a = blk.a + (i / kMR) * blk.a_panel_stride;
    for (int64_t j = 0; j < blk.n; j += kNR) {
      const int64_t cols = blk.n - j < kNR ? blk.n - j : kNR;
      const int64_t nv = (cols + 7) / 8;
      const TileFn fn = rows == kMR && nv == kNV ? tile<kMR, kNV> : pick<kMR>(rows, nv);
      fn(blk.kc, a, blk.a_row_stride, blk.a_k_stride, blk.b_packed + j * blk.kc,
         blk.c + i * blk.ldc + j, blk.ldc, cols, alpha_beta);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Packing (layouts in matmul.h)

__m256i first_n(int64_t n) {  // lanes below min(n, 8) all-ones
  const int clamped = static_cast<int>(n < 0 ? 0 : n > 8 ? 8 : n);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(clamped), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Chunks of kChunk k steps, panel by panel within a chunk, next chunk prefetched: see the
// AVX-512 version for why.
constexpr int64_t kChunk = 8;

void pack_a_trans(float* dst, const float* src, int64_t lda, int64_t rows, int64_t kc) {
  static_assert(kMR == 6, "the stores below write 4 + 2 floats");
  const int64_t panels = (rows + kMR - 1) / kMR;
  const __m256i full = first_n(kMR), last = first_n(rows - (panels - 1) * kMR);
  for (int64_t k0 = 0; k0 < kc; k0 += kChunk) {
    const int64_t kn = kc - k0 < kChunk ? kc - k0 : kChunk;
    for (int64_t k = k0 + kChunk; k < k0 + 2 * kChunk && k < kc; ++k)
      for (int64_t i = 0; i < rows; i += 16)
        _mm_prefetch(reinterpret_cast<const char*>(src + k * lda + i), _MM_HINT_T0);
    for (int64_t p = 0; p < panels; ++p) {
      const __m256i load = p == panels - 1 ? last : full;
      const float* in = src + k0 * lda + p * kMR;
      float* out = dst + p * kMR * kc + k0 * kMR;
      for (int64_t k = 0; k < kn; ++k) {
        const __m256 v = _mm256_maskload_ps(in + k * lda, load);
        _mm_storeu_ps(out + k * kMR, _mm256_castps256_ps128(v));
        _mm_store_sd(reinterpret_cast<double*>(out + k * kMR + 4),
                     _mm_castps_pd(_mm256_extractf128_ps(v, 1)));
      }
    }
  }
}

// In-register transpose of 8 x 8 floats: r[i][j] -> r[j][i].
inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
#pragma GCC unroll 4
  for (int g = 0; g < 4; ++g) {
    t[2 * g] = _mm256_unpacklo_ps(r[2 * g], r[2 * g + 1]);
    t[2 * g + 1] = _mm256_unpackhi_ps(r[2 * g], r[2 * g + 1]);
  }
  // u[4g + q], lane L = column 4L + q of rows 4g .. 4g+3
#pragma GCC unroll 2
  for (int g = 0; g < 2; ++g) {
    u[4 * g + 0] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    u[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
    u[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    u[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
  }
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    r[q] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x20);
    r[4 + q] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x31);
  }
}

// One panel of a transposed B: 8 x 8 blocks through a register transpose, k outer.
void pack_b_trans_panel(float* dst, const float* src, int64_t ldb, int64_t cols, int64_t kc) {
  for (int64_t k0 = 0; k0 < kc; k0 += 8) {
    const int64_t kn = kc - k0 < 8 ? kc - k0 : 8;
    const __m256i kmask = first_n(kn);
    for (int64_t j0 = 0; j0 < kNR; j0 += 8) {
      __m256 r[8];
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i)
        r[i] = j0 + i < cols ? _mm256_maskload_ps(src + (j0 + i) * ldb + k0, kmask)
                             : _mm256_setzero_ps();
      transpose8(r);
      if (kn == 8) {
#pragma GCC unroll 8
        for (int t = 0; t < 8; ++t) _mm256_store_ps(dst + (k0 + t) * kNR + j0, r[t]);
      } else {
        for (int64_t t = 0; t < kn; ++t) _mm256_store_ps(dst + (k0 + t) * kNR + j0, r[t]);
      }
    }
  }
}

void pack_b(float* dst, const float* src, int64_t ldb, bool trans, int64_t cols, int64_t kc) {
  const int64_t panels = (cols + kNR - 1) / kNR;
  if (trans) {
    for (int64_t q = 0; q < panels; ++q)
      pack_b_trans_panel(dst + q * kNR * kc, src + q * kNR * ldb, ldb, cols - q * kNR, kc);
    return;
  }
  for (int64_t q = 0; q < panels; ++q) {  // row k of the panel: kNR floats of row k of src
    __m256i mask[kNV];
    for (int v = 0; v < kNV; ++v) mask[v] = first_n(cols - q * kNR - 8 * v);
    for (int64_t k = 0; k < kc; ++k) {
#pragma GCC unroll 2
      for (int v = 0; v < kNV; ++v)
        _mm256_store_ps(dst + q * kNR * kc + k * kNR + 8 * v,
                        _mm256_maskload_ps(src + k * ldb + q * kNR + 8 * v, mask[v]));
    }
  }
}

}  // namespace

detail::GemmKernel detail::sgemm_kernel_avx2() {
  return {kMR, kNR, pack_a_trans, pack_b, compute};
}

}  // namespace steprl::cpu

STEPRL_TARGET_END

#else
namespace steprl::cpu {
detail::GemmKernel detail::sgemm_kernel_avx2() { return {0, 0, nullptr, nullptr, nullptr}; }
}  // namespace steprl::cpu
#endif
