// matmul_avx512.cc: the AVX-512 micro-kernel behind sgemm (see matmul.h for the packed layout).
//
// One tile is kMR x (16 * kNV) floats of C held in kMR * kNV zmm accumulators. Per k step it loads
// kNV vectors of the packed B panel and, for each of the kMR rows, broadcasts one element of the
// packed A panel into an FMA (acc[i][v] += a[i] * b[v]). Partial tiles use the same loop with fewer
// rows / vectors (templates), and the last vector of a row is stored through a mask, so edges cost
// no scalar code. Each C element sums k = 0..kc-1 in order with FMAs: deterministic.
// Packing lives here too: masked copies, and 16 x 16 register transposes for a transposed B.
#include "matmul.h"
#include "simd.h"

#if defined(STEPRL_X86)
#include <immintrin.h>

STEPRL_TARGET_BEGIN(STEPRL_ISA_AVX512)

namespace steprl::cpu {
namespace {

constexpr int kMR = 6;   // rows of C per tile (broadcast operand)
constexpr int kNV = 4;   // zmm vectors of C per row
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

// ---------------------------------------------------------------------------------------------
// Packing (layouts in matmul.h)

__mmask16 first_n(int64_t n) {  // the lowest min(n, 16) lanes
  return static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << n) - 1);
}

// Chunks of kChunk k steps: within a chunk, panel by panel, so each panel's slice is written as
// one contiguous run and the chunk's rows of A (short runs at stride lda, which the hardware
// prefetcher does not follow) are read from L1; the next chunk's rows are prefetched by hand.
// (k outer / panels inner would write to all panels at once, and panel strides are multiples
// of 4 KiB, so those stores would fight over a few L1 sets.)
constexpr int64_t kChunk = 8;

void pack_a_trans(float* dst, const float* src, int64_t lda, int64_t rows, int64_t kc) {
  const int64_t panels = (rows + kMR - 1) / kMR;
  const __mmask16 full = first_n(kMR), last = first_n(rows - (panels - 1) * kMR);
  for (int64_t k0 = 0; k0 < kc; k0 += kChunk) {
    const int64_t kn = kc - k0 < kChunk ? kc - k0 : kChunk;
    for (int64_t k = k0 + kChunk; k < k0 + 2 * kChunk && k < kc; ++k)
      for (int64_t i = 0; i < rows; i += 16)
        _mm_prefetch(reinterpret_cast<const char*>(src + k * lda + i), _MM_HINT_T0);
    for (int64_t p = 0; p < panels; ++p) {
      const __mmask16 load = p == panels - 1 ? last : full;
      const float* in = src + k0 * lda + p * kMR;
      float* out = dst + p * kMR * kc + k0 * kMR;
      for (int64_t k = 0; k < kn; ++k)
        _mm512_mask_storeu_ps(out + k * kMR, full, _mm512_maskz_loadu_ps(load, in + k * lda));
    }
  }
}

// In-register transpose of 16 x 16 floats: r[i][j] -> r[j][i] (unpack, shuffle, two lane steps).
inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
#pragma GCC unroll 8
  for (int g = 0; g < 8; ++g) {
    t[2 * g] = _mm512_unpacklo_ps(r[2 * g], r[2 * g + 1]);
    t[2 * g + 1] = _mm512_unpackhi_ps(r[2 * g], r[2 * g + 1]);
  }
  // u[4g + q], lane L = column 4L + q of rows 4g .. 4g+3
#pragma GCC unroll 4
  for (int g = 0; g < 4; ++g) {
    u[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
    u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
  }
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    const __m512 x0 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x44);
    const __m512 x1 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xEE);
    const __m512 y0 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x44);
    const __m512 y1 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xEE);
    r[q] = _mm512_shuffle_f32x4(x0, y0, 0x88);
    r[4 + q] = _mm512_shuffle_f32x4(x0, y0, 0xDD);
    r[8 + q] = _mm512_shuffle_f32x4(x1, y1, 0x88);
    r[12 + q] = _mm512_shuffle_f32x4(x1, y1, 0xDD);
  }
}

// One panel of a transposed B: column j of the panel is row j of src. 16 x 16 blocks go through
// a register transpose, k outer so each written block (16 k steps x kNR floats) is contiguous.
void pack_b_trans_panel(float* dst, const float* src, int64_t ldb, int64_t cols, int64_t kc) {
  for (int64_t k0 = 0; k0 < kc; k0 += 16) {
    const int64_t kn = kc - k0 < 16 ? kc - k0 : 16;
    const __mmask16 kmask = first_n(kn);
    for (int64_t j0 = 0; j0 < kNR; j0 += 16) {
      __m512 r[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i)
        r[i] = j0 + i < cols ? _mm512_maskz_loadu_ps(kmask, src + (j0 + i) * ldb + k0)
                             : _mm512_setzero_ps();
      transpose16(r);
      if (kn == 16) {
#pragma GCC unroll 16
        for (int t = 0; t < 16; ++t) _mm512_store_ps(dst + (k0 + t) * kNR + j0, r[t]);
      } else {
        for (int64_t t = 0; t < kn; ++t) _mm512_store_ps(dst + (k0 + t) * kNR + j0, r[t]);
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
    __mmask16 mask[kNV];
    for (int v = 0; v < kNV; ++v) {
      const int64_t j = q * kNR + 16 * v;
      mask[v] = first_n(cols > j ? cols - j : 0);
    }
    for (int64_t k = 0; k < kc; ++k) {
      // Rows of src are usually a page or more apart, where hardware prefetch stops.
      const float* ahead = src + (k + 4 < kc ? k + 4 : k) * ldb + q * kNR;
#pragma GCC unroll 4
      for (int v = 0; v < kNV; ++v)
        _mm_prefetch(reinterpret_cast<const char*>(ahead + 16 * v), _MM_HINT_T0);
#pragma GCC unroll 4
      for (int v = 0; v < kNV; ++v)
        _mm512_store_ps(dst + q * kNR * kc + k * kNR + 16 * v,
                        _mm512_maskz_loadu_ps(mask[v], src + k * ldb + q * kNR + 16 * v));
    }
  }
}

}  // namespace

detail::GemmKernel detail::sgemm_kernel_avx512() {
  return {kMR, kNR, pack_a_trans, pack_b, compute};
}

}  // namespace steprl::cpu

STEPRL_TARGET_END

#else
namespace steprl::cpu {
detail::GemmKernel detail::sgemm_kernel_avx512() { return {0, 0, nullptr, nullptr, nullptr}; }
}  // namespace steprl::cpu
#endif
