// matmul_simd.inl: the micro-kernel and packing behind sgemm (see matmul.h for the packed layout),
// written once over the vector type `Vec` of the including ISA translation unit (simd_kernels.inl):
// W = Vec::kWidth lanes, kNV = Vec::kTileVectors vectors per tile row (AVX2: 6 x 16 floats in 12
// of the 16 ymm registers, with 2 B vectors and a broadcast; AVX-512: 6 x 64 in 24 of 32 zmm).
//
// One tile is kMR x (W * kNV) floats of C held in kMR * kNV accumulators. Per k step it loads kNV
// vectors of the packed B panel and, for each of the kMR rows, broadcasts one element of the
// packed A panel into an FMA (acc[i][v] += a[i] * b[v]). Partial tiles use the same loop with
// fewer rows / vectors (templates), and only the last vector of a row goes through a mask (AVX2's
// maskstore is slow on AMD: edges only). Each C element sums k = 0..kc-1 in order with FMAs:
// deterministic. Packing lives here too: masked copies, and W x W register transposes
// (Vec::transpose) for a transposed B.

namespace {
namespace matmul_simd {

constexpr int kMR = 6;                  // rows of C per tile (broadcast operand)
constexpr int kNV = Vec::kTileVectors;  // vectors of C per row
constexpr int kW = Vec::kWidth;
constexpr int kNR = kW * kNV;
using F = Vec::F;
using Mask = Vec::Mask;

using TileFn = void (*)(int64_t kc, const float* a, int64_t a_rs, int64_t a_ks, const float* b,
                        float* c, int64_t ldc, int64_t n, const float* alpha_beta);

// c[i*ldc + j] (i < M, j < n <= W * V) = alpha * sum_k a[i*a_rs + k*a_ks] * b[k*kNR + j] + beta*c.
template <int M, int V>
void tile(int64_t kc, const float* a, int64_t a_rs, int64_t a_ks, const float* b, float* c,
          int64_t ldc, int64_t n, const float* alpha_beta) {
  F acc[M][V];
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[i][v] = Vec::zero();

  for (int64_t k = 0; k < kc; ++k) {
    F bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) bv[v] = Vec::load(b + kW * v);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      const F av = Vec::set1(a[i * a_rs]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[i][v] = Vec::fmadd(av, bv[v], acc[i][v]);
    }
    a += a_ks;
    b += kNR;
  }

  const int64_t tail = n - kW * (V - 1);  // 1..W columns in the last vector
  const Mask last = Vec::tail(tail);
  // alpha and beta arrive by pointer so that no register is pinned to them during the k loop.
  const float beta = alpha_beta[1];
  const F alpha_v = Vec::set1(alpha_beta[0]);
  const F beta_v = Vec::set1(beta);
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    float* row = c + i * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const bool partial = v == V - 1 && tail < kW;
      F out;
      if (beta == 0.0f) {
        out = Vec::mul(alpha_v, acc[i][v]);
      } else {
        const F old = partial ? Vec::load_tail(row + kW * v, last) : Vec::load(row + kW * v);
        out = Vec::fmadd(alpha_v, acc[i][v], Vec::mul(beta_v, old));
      }
      if (partial) Vec::store(row + kW * v, last, out);
      else Vec::store(row + kW * v, out);
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
      const int64_t nv = (cols + kW - 1) / kW;
      const TileFn fn = rows == kMR && nv == kNV ? tile<kMR, kNV> : pick<kMR>(rows, nv);
      fn(blk.kc, a, blk.a_row_stride, blk.a_k_stride, blk.b_packed + j * blk.kc,
         blk.c + i * blk.ldc + j, blk.ldc, cols, alpha_beta);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Packing (layouts in matmul.h)

Mask first_n(int64_t n) { return Vec::tail(n < 0 ? 0 : n); }  // the lowest min(n, W) lanes

// Chunks of kChunk k steps: within a chunk, panel by panel, so each panel's slice is written as
// one contiguous run and the chunk's rows of A (short runs at stride lda, which the hardware
// prefetcher does not follow) are read from L1; the next chunk's rows are prefetched by hand.
// (k outer / panels inner would write to all panels at once, and panel strides are multiples
// of 4 KiB, so those stores would fight over a few L1 sets.)
constexpr int64_t kChunk = 8;

void pack_a_trans(float* dst, const float* src, int64_t lda, int64_t rows, int64_t kc) {
  const int64_t panels = (rows + kMR - 1) / kMR;
  const Mask full = first_n(kMR), last = first_n(rows - (panels - 1) * kMR);
  for (int64_t k0 = 0; k0 < kc; k0 += kChunk) {
    const int64_t kn = kc - k0 < kChunk ? kc - k0 : kChunk;
    for (int64_t k = k0 + kChunk; k < k0 + 2 * kChunk && k < kc; ++k)
      for (int64_t i = 0; i < rows; i += 16) Vec::prefetch(src + k * lda + i);
    for (int64_t p = 0; p < panels; ++p) {
      const Mask load = p == panels - 1 ? last : full;
      const float* in = src + k0 * lda + p * kMR;
      float* out = dst + p * kMR * kc + k0 * kMR;
      for (int64_t k = 0; k < kn; ++k)  // kMR floats: AVX2 stores them as 4 + 2, without maskstore
        Vec::store_first<kMR>(out + k * kMR, Vec::load_tail(in + k * lda, load));
    }
  }
}

// One panel of a transposed B: column j of the panel is row j of src. W x W blocks go through a
// register transpose, k outer so each written block (W k steps x kNR floats) is contiguous.
void pack_b_trans_panel(float* dst, const float* src, int64_t ldb, int64_t cols, int64_t kc) {
  for (int64_t k0 = 0; k0 < kc; k0 += kW) {
    const int64_t kn = kc - k0 < kW ? kc - k0 : kW;
    const Mask kmask = first_n(kn);
    for (int64_t j0 = 0; j0 < kNR; j0 += kW) {
      F r[kW];
#pragma GCC unroll 16
      for (int i = 0; i < kW; ++i)
        r[i] = j0 + i < cols ? Vec::load_tail(src + (j0 + i) * ldb + k0, kmask) : Vec::zero();
      Vec::transpose(r);
      if (kn == kW) {
#pragma GCC unroll 16
        for (int t = 0; t < kW; ++t) Vec::store(dst + (k0 + t) * kNR + j0, r[t]);
      } else {
        for (int64_t t = 0; t < kn; ++t) Vec::store(dst + (k0 + t) * kNR + j0, r[t]);
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
    Mask mask[kNV];
    for (int v = 0; v < kNV; ++v) mask[v] = first_n(cols - (q * kNR + kW * v));
    for (int64_t k = 0; k < kc; ++k) {
      // Rows of src are usually a page or more apart, where hardware prefetch stops (prefetched
      // by the AVX-512 kernel, as measured when it was written; the AVX2 one never did).
      if constexpr (kW == 16) {
        const float* ahead = src + (k + 4 < kc ? k + 4 : k) * ldb + q * kNR;
#pragma GCC unroll 4
        for (int v = 0; v < kNV; ++v) Vec::prefetch(ahead + kW * v);
      }
#pragma GCC unroll 4
      for (int v = 0; v < kNV; ++v)
        Vec::store(dst + q * kNR * kc + k * kNR + kW * v,
                   Vec::load_tail(src + k * ldb + q * kNR + kW * v, mask[v]));
    }
  }
}

}  // namespace matmul_simd
}  // namespace

detail::GemmKernel detail::STEPRL_SIMD_ENTRY(sgemm_kernel)() {
  return {matmul_simd::kMR, matmul_simd::kNR, matmul_simd::pack_a_trans, matmul_simd::pack_b, matmul_simd::compute};
}
