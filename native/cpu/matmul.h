// matmul.h: fp32 GEMM for the CPU backend, C = alpha * op(A) * op(B) + beta * C, row-major.
//
// BLIS-style: K is cut into blocks of kc, op(A) and op(B) are packed into micro-panels (MR rows,
// NR columns, k-major), and a register-blocked micro-kernel picked by simd_level() accumulates
// one MR x NR tile of C per call. Threads split C into tiles only; every element's K-reduction
// runs in one fixed order, so results are bit-identical for any thread count. A C of few rows
// against a large transposed B (a decode step) is computed as C^T = B op(A)^T, reading B in place
// instead of packing it; that gives every element the same FMAs in the same order, so the same bits.
#pragma once

#include <cstdint>

namespace steprl::cpu {

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C.  op(X) = X or X^T.
// A is [M,K] (lda >= K) or, when trans_a, [K,M] (lda >= M); likewise B is [K,N] (ldb >= N) or,
// when trans_b, [N,K] (ldb >= K). beta == 0 ignores C's prior contents (NaN-safe); alpha == 0 or
// K == 0 never reads A or B.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc);

namespace detail {

// One call computes a block of C from A (packed or not) and packed B; each ISA file exports one.
//   a: element (i, k) at a[(i / MR) * a_panel_stride + (i % MR) * a_row_stride + k * a_k_stride];
//      packed A has panel stride MR*kc, row stride 1, k stride MR; an untransposed A is read in
//      place (panel stride MR*lda, row stride lda, k stride 1)
//   b_packed: ceil(n/NR) panels, panel q holds cols [q*NR, q*NR+NR) as kc steps of NR floats
//             (columns past n are zero)
//   c: the block's top-left element; c[i*ldc + j] for i < m, j < n is written as
//      alpha * sum_k a(i,k) b(k,j) + beta * c (beta == 0: c is not read).
struct GemmBlock {
  const float* a;
  int64_t a_panel_stride, a_row_stride, a_k_stride;
  const float* b_packed;
  float* c;
  int64_t ldc;
  int64_t m, n, kc;
  float alpha, beta;
};

struct GemmKernel {
  int mr, nr;  // micro-tile shape the packed panels must follow
  // ceil(rows/mr) A panels from a transposed A: panel p gets dst[p*mr*kc + k*mr + i] =
  // src[k*lda + p*mr + i] (0 past the last row).
  void (*pack_a_trans)(float* dst, const float* src, int64_t lda, int64_t rows, int64_t kc);
  // ceil(cols/nr) B panels: dst[q*nr*kc + k*nr + j] = op(src)(k, q*nr + j) (0 past the last
  // column), op(src)(k, j) = trans ? src[j*ldb + k] : src[k*ldb + j]. dst is 64-byte aligned.
  void (*pack_b)(float* dst, const float* src, int64_t ldb, bool trans, int64_t cols, int64_t kc);
  void (*compute)(const GemmBlock& block);
};

GemmKernel sgemm_kernel_avx512();
GemmKernel sgemm_kernel_avx2();

}  // namespace detail
}  // namespace steprl::cpu
