// matmul_avx512.cc: the AVX-512 micro-kernel behind sgemm (see matmul.h for the packed layout).
//
// One tile is kMR x (16 * kNV) floats of C held in kMR * kNV zmm accumulators. Per k step it loads
// kNV vectors of the packed B panel and, for each of the kMR rows, broadcasts one element of the
// packed A panel into an FMA (acc[i][v] += a[i] * b[v]). Partial tiles use the same loop with fewer
// rows / vectors (templates), and the last vector of a row is stored through a mask, so edges cost
// no scalar code. Each C element sums k = 0..kc-1 in order with FMAs: deterministic.
#include "matmul.h"
#include "simd.h"

#if defined(STEPRL_X86)
#include <immintrin.h>

STEPRL_TARGET_BEGIN(STEPRL_ISA_AVX512)

namespace steprl::cpu {
namespace {

#ifndef XMR
#define XMR 6
#define XNV 4
#endif
constexpr int kMR = XMR;   // rows of C per tile (broadcast operand)
constexpr int kNV = XNV;   // zmm vectors of C per row
constexpr int kNR = 16 * kNV;

using TileFn = void (*)(int64_t kc, const float* a, int64_t a_rs, int64_t a_ks, const float* b,
                        float* c, int64_t ldc, int64_t n, const float* alpha_beta);

// c[i*ldc + j] (i < M, j < n <= 16 * V) = alpha * sum_k a[i*a_rs + k*a_ks] * b[k*kNR + j] + beta*c.
template <int M, int V>
void tile(int64_t kc, const float* a, int64_t a_rs, int64_t a_ks, const float* b, float* c,
          int64_t ldc, int64_t n, const float* alpha_beta) {
  __m512 acc[M][V];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[i][v] = _mm512_setzero_ps();

  for (int64_t k = 0; k < kc; ++k) {
    __m512 bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) bv[v] = _mm512_load_ps(b + 16 * v);
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
      const __m512 av = _mm512_set1_ps(a[i * a_rs]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
    }
    a += a_ks;
    b += kNR;
  }

  const int64_t tail = n - 16 * (V - 1);  // 1..16 columns in the last vector
  const __mmask16 last = static_cast<__mmask16>(tail >= 16 ? 0xFFFF : (1u << tail) - 1);
  // alpha and beta arrive by pointer so that no register is pinned to them during the k loop.
  const float beta = alpha_beta[1];
  const __m512 alpha_v = _mm512_set1_ps(alpha_beta[0]);
  const __m512 beta_v = _mm512_set1_ps(beta);
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    float* row = c + i * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const __mmask16 mask = v == V - 1 ? last : static_cast<__mmask16>(0xFFFF);
      __m512 out;
      if (beta == 0.0f) {
        out = _mm512_mul_ps(alpha_v, acc[i][v]);
      } else {
        const __m512 old = _mm512_maskz_loadu_ps(mask, row + 16 * v);
        out = _mm512_fmadd_ps(alpha_v, acc[i][v], _mm512_mul_ps(beta_v, old));
      }
      _mm512_mask_storeu_ps(row + 16 * v, mask, out);
    }
  }
}

template <int M>
TileFn pick_vectors(int64_t nv) {
  if constexpr (kNV >= 4) { if (nv == 4) return tile<M, 4>; }
  if constexpr (kNV >= 3) { if (nv == 3) return tile<M, 3>; }
  if constexpr (kNV >= 2) { if (nv == 2) return tile<M, 2>; }
  return tile<M, 1>;
}

template <int M>
TileFn pick(int64_t m, int64_t nv) {
  if (m == M) return pick_vectors<M>(nv);
  if constexpr (M > 1) return pick<M - 1>(m, nv);
  return nullptr;
}

// Row panels outer, column panels inner: the A micro-panel (kMR x kc) stays in L1 while the
// block's B panels (kc x n) stream from L2.
void compute(const detail::GemmBlock& blk) {
  const float alpha_beta[2] = {blk.alpha, blk.beta};
  for (int64_t i = 0; i < blk.m; i += kMR) {
    const int64_t rows = blk.m - i < kMR ? blk.m - i : kMR;
    const float* a = blk.a + (i / kMR) * blk.a_panel_stride;
    for (int64_t j = 0; j < blk.n; j += kNR) {
      const int64_t cols = blk.n - j < kNR ? blk.n - j : kNR;
      const int64_t nv = (cols + 15) / 16;
      const TileFn fn = rows == kMR && nv == kNV ? tile<kMR, kNV> : pick<kMR>(rows, nv);
      fn(blk.kc, a, blk.a_row_stride, blk.a_k_stride, blk.b_packed + j * blk.kc,
         blk.c + i * blk.ldc + j, blk.ldc, cols, alpha_beta);
    }
  }
}

}  // namespace

detail::GemmKernel detail::sgemm_kernel_avx512() { return {kMR, kNR, compute}; }

}  // namespace steprl::cpu

STEPRL_TARGET_END

#else
namespace steprl::cpu {
detail::GemmKernel detail::sgemm_kernel_avx512() { return {0, 0, nullptr}; }
}  // namespace steprl::cpu
#endif
