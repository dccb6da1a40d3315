// matmul_avx2.cc: the AVX2 + FMA micro-kernel behind sgemm (see matmul.h for the packed layout).
//
// One tile is kMR x (8 * kNV) floats of C in kMR * kNV ymm accumulators (6 x 16: 12 accumulators,
// 2 B vectors and a broadcast fit the 16 ymm registers). Per k step it loads kNV vectors of the
// packed B panel and broadcasts one element of A per row into an FMA. Partial tiles use the same
// loop with fewer rows / vectors (templates); the last vector of a row goes through maskstore.
// Each C element sums k = 0..kc-1 in order with FMAs: deterministic.
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
      const __m256i mask = v == V - 1 ? last : all;
      __m256 out;
      if (beta == 0.0f) {
        out = _mm256_mul_ps(alpha_v, acc[i][v]);
      } else {
        const __m256 old = _mm256_maskload_ps(row + 8 * v, mask);
        out = _mm256_fmadd_ps(alpha_v, acc[i][v], _mm256_mul_ps(beta_v, old));
      }
      _mm256_maskstore_ps(row + 8 * v, mask, out);
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

}  // namespace

detail::GemmKernel detail::sgemm_kernel_avx2() { return {kMR, kNR, compute}; }

}  // namespace steprl::cpu

STEPRL_TARGET_END

#else
namespace steprl::cpu {
detail::GemmKernel detail::sgemm_kernel_avx2() { return {0, 0, nullptr}; }
}  // namespace steprl::cpu
#endif
