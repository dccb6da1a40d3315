// flash_attention_tile.cuh: what the bf16 FlashAttention-2 kernels share: the forward
// (cuda/flash_attention.cu) and the backward (cuda/flash_attention_backward.cu). The block geometry
// (4 warps, 64 stacked query rows R = t*G + g or 64 keys per block, shared rows padded by 8 bf16),
// the cp.async tile loader, and the warp-level tile products on mma.sync m16n8k16 (fragment layouts
// in cuda/tensor_core.cuh): every kernel multiplies a warp's 16 rows held as A fragments by a K-major
// tile (ldmatrix.x4: S = Q K^T and its backward relatives) and packs fp32 accumulators into bf16 A
// fragments to multiply an N-major tile (ldmatrix.x4.trans: P V, P^T dout, dS^T q, dS K). Each helper
// issues its mma in the order the kernels did before they were shared, so results are unchanged.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>

#include "../include/steprl/attention.h"
#include "common.cuh"
#include "device.h"
#include "tensor_core.cuh"

namespace steprl::cuda::flash {

constexpr int kBlockRows = 64;  // stacked query rows (or keys) per block: 4 warps x 16
constexpr int kKeys = 64;       // keys per K/V tile of the forward
constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kPad = 8;         // bf16 after each shared row (16 bytes)
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2 = 0.693147180559945309f;

template <int kD>
constexpr int kRowStride = kD + kPad;  // bf16 per shared row

struct FlashProblem {
  AttentionShape s;
  int64_t G;      // query heads per kv head
  int64_t tiles;  // 64-row tiles of stacked queries (T*G rows) per (b, kv head)
};

__device__ __forceinline__ int64_t kv_start_of(const int32_t* kv_start, int64_t b, int64_t S) {
  if (kv_start == nullptr) return 0;
  const int64_t v = __ldg(kv_start + b);
  return v < 0 ? 0 : (v > S ? S : v);  // validated on the host; clamped so no input can leave k/v
}

// Two floats -> two bf16 (round to nearest even; finite inputs), the first in the low half.
__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  uint32_t a = __float_as_uint(lo), b = __float_as_uint(hi);
  a += 0x7fffu + ((a >> 16) & 1u);
  b += 0x7fffu + ((b >> 16) & 1u);
  return (a >> 16) | (b & 0xffff0000u);
}

// cp.async of kRows rows of kD bf16 into a shared tile: row r comes from row_ptr(r) (nullptr: a
// padding row, zero-filled), chunks at or past D zero-filled (D % 8 == 0, so a chunk is all in or
// all out; a zero-filling copy reads nothing and names `base`, a valid global address). Every
// thread issues kRows * kD / 8 / kThreads copies.
template <int kD, int kRows = kBlockRows, typename RowPtr>
__device__ __forceinline__ void load_tile(uint16_t* tile, RowPtr row_ptr, const uint16_t* base, int64_t D, int tid) {
  constexpr int kChunksPerRow = kD / 8, kChunks = kRows * kChunksPerRow;
  static_assert(kChunks % kThreads == 0, "every thread copies the same number of chunks");
#pragma unroll
  for (int i = 0; i < kChunks / kThreads; ++i) {
    const int chunk = tid + i * kThreads;
    const int row = chunk / kChunksPerRow, col = (chunk % kChunksPerRow) * 8;
    const uint16_t* src = row_ptr(row);
    const bool valid = src != nullptr && col < D;
    cp_async_16(tile + row * kRowStride<kD> + col, valid ? src + col : base, valid ? 16 : 0);
  }
}

// The last key visible to a row whose last key is `hi` within the kCols keys of a tile starting
// at key k0, as a column: column c is visible iff c <= the result (-1: none, kCols: all).
template <int kCols>
__device__ __forceinline__ int visible_limit(int64_t hi, int64_t k0) {
  const int64_t left = hi - k0;
  return left < 0 ? -1 : (left >= kCols ? kCols : static_cast<int>(left));
}

// A block of 64 stacked query rows (the forward and the dq pass): its first row, the first key of
// its batch row (kvStart), the last key any of its rows sees, and the key tiles of kCols keys from
// the one to the other.
struct QueryBlock {
  int64_t row0, lo, hi_block;
  int key_tiles;
};

template <int kCols>
__device__ __forceinline__ QueryBlock query_block(const FlashProblem& p, const int32_t* kv_start, int64_t tile, int64_t b) {
  const AttentionShape& s = p.s;
  QueryBlock q;
  q.row0 = tile * kBlockRows;
  q.lo = kv_start_of(kv_start, b, s.S);
  const int64_t t_last = (q.row0 + kBlockRows - 1) / p.G < s.T - 1 ? (q.row0 + kBlockRows - 1) / p.G : s.T - 1;
  q.hi_block = s.S - s.T + t_last;
  q.key_tiles = q.hi_block >= q.lo ? static_cast<int>(ceil_div(q.hi_block - q.lo + 1, kCols)) : 0;
  return q;
}

template <int N>
__device__ __forceinline__ void zero_accumulators(float (&x)[N][4]) {
#pragma unroll
  for (int n = 0; n < N; ++n)
#pragma unroll
    for (int i = 0; i < 4; ++i) x[n][i] = 0.0f;
}

// The A fragment of k16 step kk of the warp's 16 rows (rows warp*16.., row-major in shared memory).
template <int kD>
__device__ __forceinline__ void load_a(uint32_t (&f)[4], const uint16_t* tile, int warp, int lane, int kk) {
  const int m = warp * 16 + lane % 16, k = kk * 16 + (lane / 16) * 8;
  ldmatrix_x4(f, tile + m * kRowStride<kD> + k);
}

// acc[n] += A . B over k16 step kk, for the kN n8 blocks of columns: B[k = d][n = row] from a tile
// whose rows are the columns (K-major; gemm_bf16.cu's kBTrans = true case).
template <int kD, int kN>
__device__ __forceinline__ void mma_kmajor(float (&acc)[kN][4], const uint32_t (&a)[4], const uint16_t* tile, int lane, int kk) {
#pragma unroll
  for (int pp = 0; pp < kN / 2; ++pp) {
    uint32_t r[4];
    const int n = pp * 16 + lane % 8 + (lane / 16) * 8, k = kk * 16 + ((lane / 8) & 1) * 8;
    ldmatrix_x4(r, tile + n * kRowStride<kD> + k);
    const uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
    mma_m16n8k16_bf16_f32(acc[2 * pp], a, b0, acc[2 * pp]);
    mma_m16n8k16_bf16_f32(acc[2 * pp + 1], a, b1, acc[2 * pp + 1]);
  }
}

// Two score products of the backward over the whole head, x = A1 B1^T and y = A2 B2^T: A1, A2 the
// warp's 16 rows of two row-major tiles, B1, B2 K-major tiles of kN * 8 rows.
template <int kD, int kN>
__device__ __forceinline__ void scores_x2(float (&x)[kN][4], float (&y)[kN][4], const uint16_t* a1, const uint16_t* a2,
                                          const uint16_t* b1, const uint16_t* b2, int warp, int lane) {
  zero_accumulators(x);
  zero_accumulators(y);
#pragma unroll
  for (int kk = 0; kk < kD / 16; ++kk) {
    uint32_t f1[4], f2[4];
    load_a<kD>(f1, a1, warp, lane, kk);
    load_a<kD>(f2, a2, warp, lane, kk);
    mma_kmajor<kD>(x, f1, b1, lane, kk);
    mma_kmajor<kD>(y, f2, b2, lane, kk);
  }
}

// The fp32 accumulators of n8 blocks 2 kb and 2 kb + 1 (a 16 x 16 block) as the bf16 A fragment of
// one k16 step: the C layout of two n8 blocks is the A layout of one k16 block.
template <int N>
__device__ __forceinline__ void pack_a(uint32_t (&f)[4], const float (&x)[N][4], int kb) {
  f[0] = pack_bf16x2(x[2 * kb][0], x[2 * kb][1]);
  f[1] = pack_bf16x2(x[2 * kb][2], x[2 * kb][3]);
  f[2] = pack_bf16x2(x[2 * kb + 1][0], x[2 * kb + 1][1]);
  f[3] = pack_bf16x2(x[2 * kb + 1][2], x[2 * kb + 1][3]);
}

// acc[n] += A . B over k16 step kb, for the head's kD / 8 n8 blocks: B[k = row][n = d] from a
// row-major tile (N-major; ldmatrix .trans; gemm_bf16.cu's kBTrans = false case).
template <int kD>
__device__ __forceinline__ void mma_nmajor(float (&acc)[kD / 8][4], const uint32_t (&a)[4], const uint16_t* tile, int lane, int kb) {
#pragma unroll
  for (int pp = 0; pp < kD / 16; ++pp) {
    uint32_t r[4];
    const int k = kb * 16 + lane % 8 + ((lane / 8) & 1) * 8, n = pp * 16 + (lane / 16) * 8;
    ldmatrix_x4_trans(r, tile + k * kRowStride<kD> + n);
    const uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
    mma_m16n8k16_bf16_f32(acc[2 * pp], a, b0, acc[2 * pp]);
    mma_m16n8k16_bf16_f32(acc[2 * pp + 1], a, b1, acc[2 * pp + 1]);
  }
}

// mma_nmajor into two accumulators at once, x += A1 . B1 and y += A2 . B2, their mma interleaved
// per pair of n8 blocks (the dk/dv pass: at kD = 64 two separate loops leave ptxas spilling).
template <int kD>
__device__ __forceinline__ void mma_nmajor_x2(float (&x)[kD / 8][4], const uint32_t (&a1)[4], const uint16_t* tile1,
                                              float (&y)[kD / 8][4], const uint32_t (&a2)[4], const uint16_t* tile2, int lane, int kb) {
#pragma unroll
  for (int pp = 0; pp < kD / 16; ++pp) {
    uint32_t r[4];
    const int k = kb * 16 + lane % 8 + ((lane / 8) & 1) * 8, n = pp * 16 + (lane / 16) * 8;
    ldmatrix_x4_trans(r, tile1 + k * kRowStride<kD> + n);
    const uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
    mma_m16n8k16_bf16_f32(x[2 * pp], a1, b0, x[2 * pp]);
    mma_m16n8k16_bf16_f32(x[2 * pp + 1], a1, b1, x[2 * pp + 1]);
    ldmatrix_x4_trans(r, tile2 + k * kRowStride<kD> + n);
    const uint32_t c0[2] = {r[0], r[1]}, c1[2] = {r[2], r[3]};
    mma_m16n8k16_bf16_f32(y[2 * pp], a2, c0, y[2 * pp]);
    mma_m16n8k16_bf16_f32(y[2 * pp + 1], a2, c1, y[2 * pp + 1]);
  }
}

// dst[d] = fma(acc, scale, dst[d]) for this thread's columns d = 8 n + 2 t4, d + 1 (< D) of
// accumulator row `half`: how every gradient leaves its registers (scale 1: dst + acc, exactly).
template <int kD>
__device__ __forceinline__ void add_row(float* dst, const float (&acc)[kD / 8][4], int half, int t4, int64_t D, float scale) {
#pragma unroll
  for (int n = 0; n < kD / 8; ++n) {
    const int64_t d = 8 * n + 2 * t4;
    if (d >= D) continue;  // D is even: d + 1 < D too
    dst[d] = fmaf(acc[n][2 * half], scale, dst[d]);
    dst[d + 1] = fmaf(acc[n][2 * half + 1], scale, dst[d + 1]);
  }
}

// Host side, defined in cuda/flash_attention.cu.
unsigned grid_of(int64_t blocks);
// The tensor cores take the shape (D % 8 == 0, D <= kFlashAttentionMaxHeadDim) and the tensors (16-byte aligned).
bool tensor_core_path(const AttentionShape& s, std::initializer_list<const void*> tensors);
// An exact float32 copy of n bf16 values (the fallback onto cuda/attention.cu's fp32 kernels).
std::shared_ptr<DeviceAllocation> widened(const uint16_t* in, int64_t n);

}  // namespace steprl::cuda::flash
