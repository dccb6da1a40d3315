// matmul.cc: sgemm driver: C = alpha * op(A) * op(B) + beta * C (row-major, cblas semantics).
//
// Loop nest (Goto / BLIS): for each kc-block of K (in order) and nc-block of N, pack op(B) into
// NR-column panels; pack op(A) into MR-row panels only when it is transposed (an untransposed A
// is already k-contiguous per row and is read in place); then split the block of C into MC x NT
// tasks over the thread pool, each handed to the micro-kernel of the active SIMD level
// (matmul_avx512.cc, matmul_avx2.cc, or the scalar one below). K is never split across threads
// and its blocking depends only on K, so results are bit-identical for any thread count.
#include "matmul.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "parallel.h"
#include "simd.h"

namespace steprl::cpu {
namespace {

#ifndef XKC
#define XKC 512
#endif
constexpr int64_t kKC = XKC;                // K block: an MR x kc A panel stays in L1
constexpr int64_t kNC = 4096;               // N block packed at once (kc x nc floats <= 8 MiB)
constexpr int64_t kMB = 2048;               // rows of a transposed A packed at once
constexpr int64_t kL2Floats = 128 * 1024;   // kc x NT floats of packed B a task keeps in L2
constexpr int64_t kMCMax = 192;             // rows per task
constexpr int64_t kTargetTasks = 16;        // tasks per block, for load balance
constexpr int64_t kSerialFlops = 1 << 19;   // below this, threads cost more than they save

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// A grow-only 64-byte-aligned scratch area; one per thread and role, reused across calls.
class PackBuffer {
 public:
  ~PackBuffer() { std::free(data_); }
  float* reserve(int64_t floats) {
    const size_t bytes = static_cast<size_t>(round_up(std::max<int64_t>(floats, 16) * 4, 64));
    if (bytes > capacity_) {
      std::free(data_);
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (data_ == nullptr) throw std::bad_alloc();
      capacity_ = bytes;
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

thread_local PackBuffer a_buffer;
thread_local PackBuffer b_buffer;

// ---------------------------------------------------------------------------------------------
// Packing

// op(B)[p0 : p0+kc, j0 + q*nr : ...] -> panel q: kc steps of nr floats, columns past n zeroed.
void pack_b_panel(bool trans_b, const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                  int64_t n, int64_t nr, int64_t q, float* dst) {
  const int64_t c0 = j0 + q * nr, cols = std::min(nr, j0 + n - c0);
  float* out = dst + q * nr * kc;
  if (!trans_b) {  // op(B)(k, j) = B[k*ldb + j]: each k step is a contiguous run
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = B + (p0 + k) * ldb + c0;
      float* o = out + k * nr;
      for (int64_t j = 0; j < cols; ++j) o[j] = src[j];
      for (int64_t j = cols; j < nr; ++j) o[j] = 0.0f;
    }
    return;
  }
  // op(B)(k, j) = B[j*ldb + k]: a transpose, done in k-chunks so the written chunk stays in L1.
  constexpr int64_t kChunk = 16;
  for (int64_t k0 = 0; k0 < kc; k0 += kChunk) {
    const int64_t kn = std::min(kChunk, kc - k0);
    for (int64_t j = 0; j < cols; ++j) {
      const float* src = B + (c0 + j) * ldb + p0 + k0;
      float* o = out + k0 * nr + j;
      for (int64_t k = 0; k < kn; ++k) o[k * nr] = src[k];
    }
    for (int64_t k = 0; k < kn; ++k)
      for (int64_t j = cols; j < nr; ++j) out[(k0 + k) * nr + j] = 0.0f;
  }
}

// Transposed A ([K,M]): op(A)(i, k) = A[k*lda + i]. Panel p: kc steps of mr floats (rows past m
// zeroed), so each step is a contiguous copy.
void pack_a_panel_trans(const float* A, int64_t lda, int64_t i0, int64_t m, int64_t p0,
                        int64_t kc, int64_t mr, int64_t p, float* dst) {
  const int64_t r0 = i0 + p * mr, rows = std::min(mr, i0 + m - r0);
  float* out = dst + p * mr * kc;
  for (int64_t k = 0; k < kc; ++k) {
    const float* src = A + (p0 + k) * lda + r0;
    float* o = out + k * mr;
    for (int64_t i = 0; i < rows; ++i) o[i] = src[i];
    for (int64_t i = rows; i < mr; ++i) o[i] = 0.0f;
  }
}

// ---------------------------------------------------------------------------------------------
// Scalar micro-kernel: the portable fallback and the readable statement of what the SIMD ones do.

constexpr int kScalarMR = 4;
constexpr int kScalarNR = 16;

void compute_scalar(const detail::GemmBlock& blk) {
  for (int64_t i = 0; i < blk.m; i += kScalarMR) {
    const int64_t rows = std::min<int64_t>(kScalarMR, blk.m - i);
    const float* a = blk.a + (i / kScalarMR) * blk.a_panel_stride;
    for (int64_t j = 0; j < blk.n; j += kScalarNR) {
      const int64_t cols = std::min<int64_t>(kScalarNR, blk.n - j);
      const float* b = blk.b_packed + j * blk.kc;
      float acc[kScalarMR][kScalarNR] = {};
      for (int64_t k = 0; k < blk.kc; ++k) {
        for (int64_t r = 0; r < rows; ++r) {
          const float av = a[r * blk.a_row_stride + k * blk.a_k_stride];
          for (int c = 0; c < kScalarNR; ++c) acc[r][c] += av * b[k * kScalarNR + c];
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        float* row = blk.c + (i + r) * blk.ldc + j;
        for (int64_t c = 0; c < cols; ++c)
          row[c] = blk.beta == 0.0f ? blk.alpha * acc[r][c]
                                    : blk.alpha * acc[r][c] + blk.beta * row[c];
      }
    }
  }
}

detail::GemmKernel select_kernel() {
#if defined(STEPRL_X86)
  switch (simd_level()) {
    case SimdLevel::avx512: return detail::sgemm_kernel_avx512();
    case SimdLevel::avx2: return detail::sgemm_kernel_avx2();
    default: break;
  }
#endif
  return {kScalarMR, kScalarNR, compute_scalar};
}

// C = beta * C, with beta == 0 writing zeros (the K == 0 / alpha == 0 case).
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    float* row = C + i * ldc;
    if (beta == 0.0f) std::memset(row, 0, static_cast<size_t>(N) * sizeof(float));
    else if (beta != 1.0f) for (int64_t j = 0; j < N; ++j) row[j] *= beta;
  }
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const detail::GemmKernel kernel = select_kernel();
  const int64_t mr = kernel.mr, nr = kernel.nr;
  const bool serial = 2.0 * M * N * K < kSerialFlops;

  // Even K blocks: the blocking (and so every rounding) depends on K alone.
  const int64_t kc_max = ceil_div(K, ceil_div(K, kKC));
  const int64_t nc_max = std::min(N, kNC);
  const int64_t mb_max = trans_a ? std::min(M, kMB) : M;
  float* b_packed = b_buffer.reserve(kc_max * round_up(nc_max, nr));
  float* a_packed = trans_a ? a_buffer.reserve(kc_max * round_up(mb_max, mr)) : nullptr;

  for (int64_t pc = 0; pc < K; pc += kc_max) {
    const int64_t kc = std::min(kc_max, K - pc);
    const float beta_block = pc == 0 ? beta : 1.0f;  // later K blocks accumulate onto C
    for (int64_t jc = 0; jc < N; jc += nc_max) {
      const int64_t nc = std::min(nc_max, N - jc);
      const int64_t b_panels = ceil_div(nc, nr);
      for (int64_t ic = 0; ic < M; ic += mb_max) {
        const int64_t mb = std::min(mb_max, M - ic);
        const int64_t a_panels = trans_a ? ceil_div(mb, mr) : 0;
        const int64_t pack_b_now = ic == 0 ? b_panels : 0;
        const int64_t pack_tasks = pack_b_now + a_panels;
        parallel_for(pack_tasks, serial ? pack_tasks : 1, [&](int64_t begin, int64_t end) {
          for (int64_t t = begin; t < end; ++t) {
            if (t < pack_b_now) pack_b_panel(trans_b, B, ldb, pc, kc, jc, nc, nr, t, b_packed);
            else pack_a_panel_trans(A, lda, ic, mb, pc, kc, mr, t - pack_b_now, a_packed);
          }
        });

        // Tasks: NT columns (whose packed B fits in L2) x MC rows, column-block-major so that
        // concurrently running tasks share the same B columns.
        const int64_t nt = std::max(nr, kL2Floats / kc / nr * nr);
        const int64_t tiles_n = ceil_div(nc, nt);
        const int64_t mc = std::clamp(round_up(ceil_div(mb * tiles_n, kTargetTasks), mr), mr,
                                      std::max(mr, kMCMax / mr * mr));
        const int64_t tiles_m = ceil_div(mb, mc);
        const int64_t tasks = tiles_m * tiles_n;
        parallel_for(tasks, serial ? tasks : 1, [&](int64_t begin, int64_t end) {
          for (int64_t t = begin; t < end; ++t) {
            const int64_t i = (t % tiles_m) * mc, j = (t / tiles_m) * nt;
            detail::GemmBlock blk;
            if (trans_a) {
              blk.a = a_packed + i * kc;
              blk.a_panel_stride = mr * kc;
              blk.a_row_stride = 1;
              blk.a_k_stride = mr;
            } else {
              blk.a = A + (ic + i) * lda + pc;
              blk.a_panel_stride = mr * lda;
              blk.a_row_stride = lda;
              blk.a_k_stride = 1;
            }
            blk.b_packed = b_packed + j * kc;
            blk.c = C + (ic + i) * ldc + jc + j;
            blk.ldc = ldc;
            blk.m = std::min(mc, mb - i);
            blk.n = std::min(nt, nc - j);
            blk.kc = kc;
            blk.alpha = alpha;
            blk.beta = beta_block;
            kernel.compute(blk);
          }
        });
      }
    }
  }
}

}  // namespace steprl::cpu
