// flash_attention.cu: causal GQA attention with bf16 q, k, v on tensor cores (cuda/flash_attention.h),
// FlashAttention-2's forward (Dao 2023, Algorithm 1) on mma.sync m16n8k16 bf16 with fp32
// accumulation, in the style of cuda/gemm_bf16.cu (cuda/tensor_core.cuh's wrappers, so the
// simulator runs the same source).
//
// A block of 4 warps owns one kv head of one batch row and 64 stacked query rows R = t*G + g (the
// G query heads sharing the kv head, as in cuda/attention.cu: each K/V tile is loaded once for all
// of them); warp w owns rows 16w..16w+15. The query tile goes global -> shared by cp.async and,
// with ldmatrix.x4, into registers as the mma A fragments of the whole (zero-padded) head, where it
// stays. K and V are walked in tiles of 64 keys from kvStart to the last key a row of the block can
// see, double-buffered in shared memory: tile j + 1 is in flight (cp.async.cg, one commit group)
// while tile j is multiplied; one cp.async.wait_group 0 + __syncthreads per tile both publishes
// tile j and frees the buffer the next copies overwrite. Per tile and warp:
//   S = Q K^T      16 x 64 fp32 in registers (8 n8 accumulators; K tile rows = keys, K-major B
//                  operand: ldmatrix.x4, no transpose)
//   mask           key > S - T + t (causal; covers keys past the last visible one and the zero rows
//                  loaded for them) -> -inf; keys start at kvStart, so the left padding never loads
//   online softmax in base 2 on x = S * scale * log2(e): row max over the 4 lanes of a quad
//                  (2 xor-shuffles), m_new, alpha = 2^(m - m_new), p = 2^(x - m_new); each lane
//                  keeps a partial row sum l (fp32, of the unrounded p) reduced once at the end
//   O = alpha O + P V   P rounded to bf16 (round to nearest even) and repacked from the S
//                  accumulator layout straight into A fragments (the C layout of two n8 blocks is
//                  the A layout of one k16 block); V tile rows = keys, N-major B operand:
//                  ldmatrix.x4.trans
// Epilogue: out = O / l (fp32), lse = ln2 (m + log2 l); a row without a valid key keeps m = -inf,
// l = 0 and writes out = 0, lse = -inf (no exp2 of -inf - -inf is ever taken).
// Shared rows are padded by 8 bf16 (16 bytes), so the 8 rows of an ldmatrix phase fall in 8
// distinct bank groups (as in gemm_bf16.cu). Heads are padded with zeros to kD = 64 or 128
// (cp.async's src-size 0 for chunks past D, D % 8 == 0), which changes no dot product.
//
// Output precision: out is fp32 (like matmul's bf16 path): the backward's Di = dout . out and any
// consumer that rounds to bf16 itself get the unrounded value, and the float32 contract of
// ops.attention's out is kept. Accuracy: S is exact bf16 products summed in fp32; the one rounding
// FA2 adds is P to bf16 before P V (relative 2^-9 per probability), so |out - exact| <= ~2^-8
// sum_s p_s |v_s| (the normalization uses the fp32 sum of unrounded p).
//
// Sizes (ptxas -v, CUDA 13, sm_90 and sm_80 alike; nothing measured on a GPU), 128 threads a block:
//   forward  kD = 128: 254 registers, (64 + 2 x 2 x 64) x 136 x 2 = 87,040 B of shared memory:
//            2 blocks (8 warps) per SM, register-limited; kD = 64: 168-186 registers, 46,080 B, 2-3.
//   dk/dv    kD = 128: 254 registers, 70,656 B: 2 blocks; kD = 64: 168 registers, 37,888 B: 2-3.
//   dq       kD = 128: 227-228 registers, 70,656 B: 2 blocks; kD = 64: 163 registers: 3.
// No spills. Registers per thread ~ kD/4 (Q fragments) + kD/2 (O) + 32 (S) + addressing.
// Work per key tile and block: 2 x 2 x 64 x 64 x kD FLOP (QK^T and PV) on 64 x kD x 2 x 2 bytes
// of K and V brought from L2/HBM: 64 FLOP per byte (each K/V tile serves the block's 64 rows).
//
// Decode (T = 1, G query heads per kv head) uses G of the 64 rows of a tile: bandwidth-bound on
// the cache read like cuda/attention.cu; no split-KV pass (one block per (b, kv head)).
#include "flash_attention.h"

#include <string>

#include "attention.h"
#include "common.cuh"
#include "device.h"
#include "tensor_core.cuh"

namespace steprl::cuda {
namespace {

constexpr int kBlockRows = 64;  // stacked query rows per block: 4 warps x 16
constexpr int kKeys = 64;       // keys per K/V tile
constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kPad = 8;         // bf16 after each shared row (16 bytes)
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2 = 0.693147180559945309f;

template <int kD>
struct FlashTile {
  static constexpr int kStride = kD + kPad;              // bf16 per shared row
  static constexpr int kQElems = kBlockRows * kStride;   // the query tile
  static constexpr int kKVElems = kKeys * kStride;       // one K or V tile
  static constexpr int kStageElems = 2 * kKVElems;       // K and V of one stage
  static constexpr size_t kSharedBytes = (kQElems + 2 * kStageElems) * sizeof(uint16_t);
  static_assert(kD % 16 == 0 && kD <= 128, "the tensor-core forward pads heads to 64 or 128");
};

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

// cp.async of 64 rows of kD bf16 into a shared tile: row r comes from row_ptr(r) (nullptr: a
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
    cp_async_16(tile + row * FlashTile<kD>::kStride + col, valid ? src + col : base, valid ? 16 : 0);
  }
}

template <int kD>
__global__ void __launch_bounds__(kThreads)
flash_attention_forward_kernel(const AttentionBf16ForwardArgs a, const FlashProblem p) {
  using Tile = FlashTile<kD>;
  constexpr int kStride = Tile::kStride;
  constexpr int KB = kD / 16;     // k16 steps over the head (S = Q K^T)
  constexpr int DN = kD / 8;      // n8 blocks of the head (O)
  constexpr int SN = kKeys / 8;   // n8 blocks of keys (S)
  STEPRL_DYNAMIC_SHARED(uint16_t, smem);
  uint16_t* qs = smem;
  uint16_t* kv = smem + Tile::kQElems;  // stage st: K at kv + st * kStageElems, V kKVElems after it
  const AttentionShape& s = p.s;
  const int tid = static_cast<int>(threadIdx.x), lane = tid % 32, warp = tid / 32;
  const int g4 = lane / 4, t4 = lane % 4;
  const float scale2 = s.scale * kLog2e;

  for (int64_t block = blockIdx.x; block < s.B * s.KVH * p.tiles; block += gridDim.x) {
    const int64_t tile = block % p.tiles, b = block / p.tiles / s.KVH, kvh = block / p.tiles % s.KVH;
    const int64_t row0 = tile * kBlockRows;
    const int64_t lo = kv_start_of(a.kv_start, b, s.S);
    const int64_t t_last = (row0 + kBlockRows - 1) / p.G < s.T - 1 ? (row0 + kBlockRows - 1) / p.G : s.T - 1;
    const int64_t hi_block = s.S - s.T + t_last;  // the last key any row of the block sees
    const int key_tiles = hi_block >= lo ? static_cast<int>(ceil_div(hi_block - lo + 1, kKeys)) : 0;
    // This thread's two accumulator rows (g and g + 8 of the warp's 16): their last visible key.
    int64_t hi[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int64_t t = (row0 + warp * 16 + g4 + 8 * half) / p.G;
      hi[half] = t < s.T ? s.S - s.T + t : -1;
    }

    auto q_row = [&](int r) -> const uint16_t* {
      const int64_t R = row0 + r, t = R / p.G, h = kvh * p.G + R % p.G;
      return t < s.T ? a.q + ((b * s.T + t) * s.H + h) * s.D : nullptr;
    };
    const int64_t kv_row_stride = s.KVH * s.D;  // bf16 between consecutive keys
    auto load_kv = [&](int stage, int64_t s0) {
      uint16_t* ks = kv + stage * Tile::kStageElems;
      const int64_t offset = ((b * s.Smax + s0) * s.KVH + kvh) * s.D;
      const int64_t left = hi_block - s0;  // rows r <= left hold keys some row of the block sees
      const int rows = left >= kKeys - 1 ? kKeys : static_cast<int>(left) + 1;
      const uint16_t* k0 = a.k + offset;
      const uint16_t* v0 = a.v + offset;
      load_tile<kD>(ks, [&](int r) { return r < rows ? k0 + r * kv_row_stride : nullptr; }, a.k, s.D, tid);
      load_tile<kD>(ks + Tile::kKVElems, [&](int r) { return r < rows ? v0 + r * kv_row_stride : nullptr; }, a.v, s.D, tid);
    };

    __syncthreads();  // the previous block's tiles are no longer read
    load_tile<kD>(qs, q_row, a.q, s.D, tid);
    if (key_tiles > 0) load_kv(0, lo);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();  // the query tile (and key tile 0) of every thread has landed

    uint32_t qf[KB][4];  // A fragments of the warp's 16 query rows over the whole head
#pragma unroll
    for (int kk = 0; kk < KB; ++kk) {
      const int m = warp * 16 + lane % 16, k = kk * 16 + (lane / 16) * 8;
      ldmatrix_x4(qf[kk], qs + m * kStride + k);
    }

    float o[DN][4];
#pragma unroll
    for (int n = 0; n < DN; ++n)
#pragma unroll
      for (int i = 0; i < 4; ++i) o[n][i] = 0.0f;
    float m_row[2] = {-INFINITY, -INFINITY}, l_row[2] = {0.0f, 0.0f};

    for (int j = 0; j < key_tiles; ++j) {
      cp_async_wait<0>();  // this thread's copies of tile j have landed
      __syncthreads();     // everyone's have; and everyone is done with tile j - 1
      if (j + 1 < key_tiles) load_kv((j + 1) % 2, lo + int64_t{j + 1} * kKeys);
      cp_async_commit();
      const uint16_t* ks = kv + (j % 2) * Tile::kStageElems;
      const uint16_t* vs = ks + Tile::kKVElems;
      const int64_t s0 = lo + int64_t{j} * kKeys;
      // Column c = 8 n + 2 t4 + e of the tile is visible to accumulator row `half` iff c <= limit[half].
      int limit[2];
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int64_t left = hi[half] - s0;
        limit[half] = left < 0 ? -1 : (left >= kKeys ? kKeys : static_cast<int>(left));
      }

      // S = Q K^T: B[k = d][n = key] = K[key][d], K-major (gemm_bf16.cu's kBTrans = true case).
      float sc[SN][4];
#pragma unroll
      for (int n = 0; n < SN; ++n)
#pragma unroll
        for (int i = 0; i < 4; ++i) sc[n][i] = 0.0f;
#pragma unroll
      for (int kk = 0; kk < KB; ++kk) {
#pragma unroll
        for (int pp = 0; pp < SN / 2; ++pp) {
          uint32_t r[4];
          const int n = pp * 16 + lane % 8 + (lane / 16) * 8, k = kk * 16 + ((lane / 8) & 1) * 8;
          ldmatrix_x4(r, ks + n * kStride + k);
          const uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
          mma_m16n8k16_bf16_f32(sc[2 * pp], qf[kk], b0, sc[2 * pp]);
          mma_m16n8k16_bf16_f32(sc[2 * pp + 1], qf[kk], b1, sc[2 * pp + 1]);
        }
      }

      // Mask, scale to base 2, online softmax. sc[n][i]: row g4 + 8 (i / 2), key s0 + 8 n + 2 t4 + i % 2.
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        float tile_max = -INFINITY;
#pragma unroll
        for (int n = 0; n < SN; ++n)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            float& x = sc[n][2 * half + e];
            x = 8 * n + 2 * t4 + e <= limit[half] ? x * scale2 : -INFINITY;
            tile_max = fmaxf(tile_max, x);
          }
        tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullMask, tile_max, 1));
        tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullMask, tile_max, 2));
        const float m_new = fmaxf(m_row[half], tile_max);
        float alpha = 1.0f, sum = 0.0f;
        if (m_new != -INFINITY) {
          alpha = exp2f(m_row[half] - m_new);  // 0 while nothing was valid (m = -inf)
#pragma unroll
          for (int n = 0; n < SN; ++n)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              float& x = sc[n][2 * half + e];
              x = exp2f(x - m_new);
              sum += x;
            }
        } else {
#pragma unroll
          for (int n = 0; n < SN; ++n) sc[n][2 * half] = sc[n][2 * half + 1] = 0.0f;
        }
        l_row[half] = l_row[half] * alpha + sum;
        m_row[half] = m_new;
#pragma unroll
        for (int n = 0; n < DN; ++n) {
          o[n][2 * half] *= alpha;
          o[n][2 * half + 1] *= alpha;
        }
      }

      // O += P V: P's accumulators for keys 16 kb .. 16 kb + 15 are the A fragment of one k16 step;
      // B[k = key][n = d] = V[key][d], N-major (gemm_bf16.cu's kBTrans = false case).
#pragma unroll
      for (int kb = 0; kb < kKeys / 16; ++kb) {
        const uint32_t pf[4] = {pack_bf16x2(sc[2 * kb][0], sc[2 * kb][1]), pack_bf16x2(sc[2 * kb][2], sc[2 * kb][3]),
                                pack_bf16x2(sc[2 * kb + 1][0], sc[2 * kb + 1][1]),
                                pack_bf16x2(sc[2 * kb + 1][2], sc[2 * kb + 1][3])};
#pragma unroll
        for (int pp = 0; pp < DN / 2; ++pp) {
          uint32_t r[4];
          const int k = kb * 16 + lane % 8 + ((lane / 8) & 1) * 8, n = pp * 16 + (lane / 16) * 8;
          ldmatrix_x4_trans(r, vs + k * kStride + n);
          const uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
          mma_m16n8k16_bf16_f32(o[2 * pp], pf, b0, o[2 * pp]);
          mma_m16n8k16_bf16_f32(o[2 * pp + 1], pf, b1, o[2 * pp + 1]);
        }
      }
    }
    cp_async_wait<0>();  // nothing is left in flight (the trailing group is empty)

    // Epilogue: the quad's partial sums, then out = O / l and lse for the two rows of this thread.
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float l = l_row[half];
      l += __shfl_xor_sync(kFullMask, l, 1);
      l += __shfl_xor_sync(kFullMask, l, 2);
      const int64_t R = row0 + warp * 16 + g4 + 8 * half, t = R / p.G, h = kvh * p.G + R % p.G;
      if (t >= s.T) continue;
      float* out = a.out + ((b * s.T + t) * s.H + h) * s.D;
      const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
      for (int n = 0; n < DN; ++n) {
        const int64_t d = 8 * n + 2 * t4;
        if (d < s.D) out[d] = o[n][2 * half] * inv;  // D is even: d + 1 < D too
        if (d + 1 < s.D) out[d + 1] = o[n][2 * half + 1] * inv;
      }
      if (t4 == 0) a.lse[(b * s.H + h) * s.T + t] = l > 0.0f ? (m_row[half] + log2f(l)) * kLn2 : -INFINITY;
    }
  }
}

// ---- Backward (FA2 Algorithm 2, split into two passes so that every gradient element has one
// owner and one summation order: no atomics, the same bits on every run) ----
//   delta    Di = dout_i . out_i (bf16 dout, fp32 out), one warp per (b, t, h)
//   dk/dv    a block per 64 keys of one (b, kv head), warp w owning keys 16w..16w+15, walks the
//            32-row tiles of stacked queries that can see them (Q, dout double-buffered through
//            cp.async); per tile and warp, in registers: S^T = K Q^T and dP^T = V dout^T (16 x 32),
//            P^T = 2^(S^T scale log2e - lse log2e) (masked to 0), dS^T = P^T (dP^T - Di);
//            dv += P^T dout, dk += dS^T q (P^T and dS^T rounded to bf16 as A fragments); at the end
//            dk += scale dk, dv += dv into the fp32 gradients.
//   dq       a block per 64 stacked query rows (as the forward), warp w owning rows 16w..16w+15,
//            walks tiles of 32 keys (K, V double-buffered): S = Q K^T, dP = dout V^T, P, dS as
//            above, dq += dS K (dS rounded to bf16); dq += scale dq at the end.
// Rounding: P (for dv) and dS (for dk, dq) are rounded to bf16 before their mma, relative 2^-9
// per term, as the forward's P; the score products are exact and summed in fp32.
constexpr int kBwdRows = 32;  // query rows per tile of the dk/dv pass, keys per tile of the dq pass

template <int kD>
struct BackwardTile {
  static constexpr int kStride = kD + kPad;
  static constexpr int kBigElems = kBlockRows * kStride;   // 64 rows: K or V (dk/dv), Q or dout (dq)
  static constexpr int kSmallElems = kBwdRows * kStride;   // 32 rows of the streamed operands
  static constexpr int kStageElems = 2 * kSmallElems;
  static constexpr size_t kRowInfoBytes = 2 * kBwdRows * (sizeof(int64_t) + 2 * sizeof(float));  // dk/dv: per stage
  static constexpr size_t kSharedBytes = (2 * kBigElems + 2 * kStageElems) * sizeof(uint16_t) + kRowInfoBytes;
};

__global__ void __launch_bounds__(256)
flash_attention_delta_kernel(float* delta, const uint16_t* dout, const float* out, AttentionShape s) {  // [B,H,T]
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int64_t warps = int64_t{gridDim.x} * blockDim.x / 32;
  for (int64_t r = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) / 32; r < s.B * s.T * s.H; r += warps) {
    const uint16_t* g = dout + r * s.D;
    const float* o = out + r * s.D;
    float sum = 0.0f;
    for (int64_t d = lane; d < s.D; d += 32) sum = fmaf(__uint_as_float(static_cast<uint32_t>(__ldg(g + d)) << 16), __ldg(o + d), sum);
    sum = warp_reduce_sum(sum);
    const int64_t h = r % s.H, t = r / s.H % s.T, b = r / s.H / s.T;
    if (lane == 0) delta[(b * s.H + h) * s.T + t] = sum;
  }
}

template <int kD>
__global__ void __launch_bounds__(kThreads)
flash_attention_dkdv_kernel(const AttentionBf16BackwardArgs a, const float* delta, const FlashProblem p, int64_t key_tiles) {
  using Tile = BackwardTile<kD>;
  constexpr int kStride = Tile::kStride, KB = kD / 16, DN = kD / 8, SN = kBwdRows / 8;
  STEPRL_DYNAMIC_SHARED(uint16_t, smem);
  uint16_t* ks = smem;                         // [64 keys][kStride]
  uint16_t* vs = ks + Tile::kBigElems;         // [64 keys][kStride]
  uint16_t* stages = vs + Tile::kBigElems;     // stage st: q at stages + st * kStageElems, dout kSmallElems after
  int64_t* row_hi = reinterpret_cast<int64_t*>(stages + 2 * Tile::kStageElems);  // [2][32] last visible key, -1: none
  float* row_lse2 = reinterpret_cast<float*>(row_hi + 2 * kBwdRows);             // [2][32] lse * log2(e)
  float* row_delta = row_lse2 + 2 * kBwdRows;                                    // [2][32]
  const AttentionShape& s = p.s;
  const int tid = static_cast<int>(threadIdx.x), lane = tid % 32, warp = tid / 32, g4 = lane / 4, t4 = lane % 4;
  const float scale2 = s.scale * kLog2e;
  const int64_t kv_row_stride = s.KVH * s.D;
  for (int64_t block = blockIdx.x; block < s.B * s.KVH * key_tiles; block += gridDim.x) {
    const int64_t tile = block % key_tiles, b = block / key_tiles / s.KVH, kvh = block / key_tiles % s.KVH;
    const int64_t s0 = tile * kBlockRows, lo = kv_start_of(a.kv_start, b, s.S);
    if (s0 + kBlockRows <= lo) continue;  // every key of the tile is left padding (block-uniform)
    // Stacked query rows that can see a key of this tile: t >= s0 - (S - T).
    const int64_t t_first = s0 - (s.S - s.T) > 0 ? s0 - (s.S - s.T) : 0, r_first = t_first * p.G;
    const int q_tiles = static_cast<int>(ceil_div(s.T * p.G - r_first, kBwdRows));
    const int64_t kv_offset = ((b * s.Smax + s0) * s.KVH + kvh) * s.D;
    const int key_rows = s.S - s0 >= kBlockRows ? kBlockRows : static_cast<int>(s.S - s0);

    auto load_stage = [&](int stage, int64_t r0) {
      uint16_t* qs = stages + stage * Tile::kStageElems;
      auto row_of = [&](const uint16_t* base, int r) -> const uint16_t* {
        const int64_t R = r0 + r, t = R / p.G, h = kvh * p.G + R % p.G;
        return t < s.T ? base + ((b * s.T + t) * s.H + h) * s.D : nullptr;
      };
      load_tile<kD, kBwdRows>(qs, [&](int r) { return row_of(a.q, r); }, a.q, s.D, tid);
      load_tile<kD, kBwdRows>(qs + Tile::kSmallElems, [&](int r) { return row_of(a.dout, r); }, a.dout, s.D, tid);
      if (tid < kBwdRows) {
        const int64_t R = r0 + tid, t = R / p.G, h = kvh * p.G + R % p.G;
        const bool valid = t < s.T;
        row_hi[stage * kBwdRows + tid] = valid ? s.S - s.T + t : -1;
        row_lse2[stage * kBwdRows + tid] = valid ? __ldg(a.lse + (b * s.H + h) * s.T + t) * kLog2e : 0.0f;
        row_delta[stage * kBwdRows + tid] = valid ? __ldg(delta + (b * s.H + h) * s.T + t) : 0.0f;
      }
    };

    __syncthreads();  // the previous block's tiles are no longer read
    load_tile<kD>(ks, [&](int r) { return r < key_rows ? a.k + kv_offset + r * kv_row_stride : nullptr; }, a.k, s.D, tid);
    load_tile<kD>(vs, [&](int r) { return r < key_rows ? a.v + kv_offset + r * kv_row_stride : nullptr; }, a.v, s.D, tid);
    if (q_tiles > 0) load_stage(0, r_first);
    cp_async_commit();

    // This thread's two accumulator keys (rows g and g + 8 of the warp's 16) and their validity.
    int64_t key[2];
    bool key_ok[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      key[half] = s0 + warp * 16 + g4 + 8 * half;
      key_ok[half] = key[half] >= lo && key[half] < s.S;
    }
    float dk[DN][4], dv[DN][4];
#pragma unroll
    for (int n = 0; n < DN; ++n)
#pragma unroll
      for (int i = 0; i < 4; ++i) dk[n][i] = dv[n][i] = 0.0f;

    for (int j = 0; j < q_tiles; ++j) {
      cp_async_wait<0>();
      __syncthreads();
      if (j + 1 < q_tiles) load_stage((j + 1) % 2, r_first + int64_t{j + 1} * kBwdRows);
      cp_async_commit();
      const int st = j % 2;
      const uint16_t* qs = stages + st * Tile::kStageElems;
      const uint16_t* dos = qs + Tile::kSmallElems;

      // S^T = K Q^T and dP^T = V dout^T: A = the warp's 16 keys (row-major), B[k = d][n = row] K-major.
      float sc[SN][4], dp[SN][4];
#pragma unroll
      for (int n = 0; n < SN; ++n)
#pragma unroll
        for (int i = 0; i < 4; ++i) sc[n][i] = dp[n][i] = 0.0f;
#pragma unroll
      for (int kk = 0; kk < KB; ++kk) {
        uint32_t ak[4], av[4];
        const int m = warp * 16 + lane % 16, k = kk * 16 + (lane / 16) * 8;
        ldmatrix_x4(ak, ks + m * kStride + k);
        ldmatrix_x4(av, vs + m * kStride + k);
#pragma unroll
        for (int pp = 0; pp < SN / 2; ++pp) {
          const int n = pp * 16 + lane % 8 + (lane / 16) * 8, kq = kk * 16 + ((lane / 8) & 1) * 8;
          uint32_t r[4];
          ldmatrix_x4(r, qs + n * kStride + kq);
          const uint32_t q0[2] = {r[0], r[1]}, q1[2] = {r[2], r[3]};
          mma_m16n8k16_bf16_f32(sc[2 * pp], ak, q0, sc[2 * pp]);
          mma_m16n8k16_bf16_f32(sc[2 * pp + 1], ak, q1, sc[2 * pp + 1]);
          ldmatrix_x4(r, dos + n * kStride + kq);
          const uint32_t g0[2] = {r[0], r[1]}, g1[2] = {r[2], r[3]};
          mma_m16n8k16_bf16_f32(dp[2 * pp], av, g0, dp[2 * pp]);
          mma_m16n8k16_bf16_f32(dp[2 * pp + 1], av, g1, dp[2 * pp + 1]);
        }
      }
      // sc[n][i]: key row g4 + 8 (i / 2), query row c = 8 n + 2 t4 + i % 2 of the tile.
#pragma unroll
      for (int n = 0; n < SN; ++n)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int c = 8 * n + 2 * t4 + (i & 1), half = i >> 1;
          const bool visible = key_ok[half] && key[half] <= row_hi[st * kBwdRows + c];
          const float prob = visible ? exp2f(sc[n][i] * scale2 - row_lse2[st * kBwdRows + c]) : 0.0f;
          sc[n][i] = prob;
          dp[n][i] = prob * (dp[n][i] - row_delta[st * kBwdRows + c]);
        }
      // dv += P^T dout, dk += dS^T q: A = P^T / dS^T over k = query rows, B[k = row][n = d] N-major.
#pragma unroll
      for (int kb = 0; kb < kBwdRows / 16; ++kb) {
        const uint32_t pf[4] = {pack_bf16x2(sc[2 * kb][0], sc[2 * kb][1]), pack_bf16x2(sc[2 * kb][2], sc[2 * kb][3]),
                                pack_bf16x2(sc[2 * kb + 1][0], sc[2 * kb + 1][1]),
                                pack_bf16x2(sc[2 * kb + 1][2], sc[2 * kb + 1][3])};
        const uint32_t df[4] = {pack_bf16x2(dp[2 * kb][0], dp[2 * kb][1]), pack_bf16x2(dp[2 * kb][2], dp[2 * kb][3]),
                                pack_bf16x2(dp[2 * kb + 1][0], dp[2 * kb + 1][1]),
                                pack_bf16x2(dp[2 * kb + 1][2], dp[2 * kb + 1][3])};
#pragma unroll
        for (int pp = 0; pp < DN / 2; ++pp) {
          const int k = kb * 16 + lane % 8 + ((lane / 8) & 1) * 8, n = pp * 16 + (lane / 16) * 8;
          uint32_t r[4];
          ldmatrix_x4_trans(r, dos + k * kStride + n);
          const uint32_t g0[2] = {r[0], r[1]}, g1[2] = {r[2], r[3]};
          mma_m16n8k16_bf16_f32(dv[2 * pp], pf, g0, dv[2 * pp]);
          mma_m16n8k16_bf16_f32(dv[2 * pp + 1], pf, g1, dv[2 * pp + 1]);
          ldmatrix_x4_trans(r, qs + k * kStride + n);
          const uint32_t q0[2] = {r[0], r[1]}, q1[2] = {r[2], r[3]};
          mma_m16n8k16_bf16_f32(dk[2 * pp], df, q0, dk[2 * pp]);
          mma_m16n8k16_bf16_f32(dk[2 * pp + 1], df, q1, dk[2 * pp + 1]);
        }
      }
    }
    cp_async_wait<0>();

#pragma unroll
    for (int half = 0; half < 2; ++half) {
      if (!key_ok[half]) continue;
      const int64_t offset = ((b * s.Smax + key[half]) * s.KVH + kvh) * s.D;
#pragma unroll
      for (int n = 0; n < DN; ++n) {
        const int64_t d = 8 * n + 2 * t4;
        if (d >= s.D) continue;  // D is even: d + 1 < D too
        a.dk[offset + d] = fmaf(dk[n][2 * half], s.scale, a.dk[offset + d]);
        a.dk[offset + d + 1] = fmaf(dk[n][2 * half + 1], s.scale, a.dk[offset + d + 1]);
        a.dv[offset + d] += dv[n][2 * half];
        a.dv[offset + d + 1] += dv[n][2 * half + 1];
      }
    }
  }
}

template <int kD>
__global__ void __launch_bounds__(kThreads)
flash_attention_dq_kernel(const AttentionBf16BackwardArgs a, const float* delta, const FlashProblem p) {
  using Tile = BackwardTile<kD>;
  constexpr int kStride = Tile::kStride, KB = kD / 16, DN = kD / 8, SN = kBwdRows / 8;
  STEPRL_DYNAMIC_SHARED(uint16_t, smem);
  uint16_t* qs = smem;                       // [64 rows][kStride]
  uint16_t* dos = qs + Tile::kBigElems;      // [64 rows][kStride]
  uint16_t* stages = dos + Tile::kBigElems;  // stage st: K at stages + st * kStageElems, V kSmallElems after
  const AttentionShape& s = p.s;
  const int tid = static_cast<int>(threadIdx.x), lane = tid % 32, warp = tid / 32, g4 = lane / 4, t4 = lane % 4;
  const float scale2 = s.scale * kLog2e;
  const int64_t kv_row_stride = s.KVH * s.D;
  for (int64_t block = blockIdx.x; block < s.B * s.KVH * p.tiles; block += gridDim.x) {
    const int64_t tile = block % p.tiles, b = block / p.tiles / s.KVH, kvh = block / p.tiles % s.KVH;
    const int64_t row0 = tile * kBlockRows, lo = kv_start_of(a.kv_start, b, s.S);
    const int64_t t_last = (row0 + kBlockRows - 1) / p.G < s.T - 1 ? (row0 + kBlockRows - 1) / p.G : s.T - 1;
    const int64_t hi_block = s.S - s.T + t_last;
    const int key_tiles = hi_block >= lo ? static_cast<int>(ceil_div(hi_block - lo + 1, kBwdRows)) : 0;
    int64_t hi[2];
    float lse2[2], di[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int64_t R = row0 + warp * 16 + g4 + 8 * half, t = R / p.G, h = kvh * p.G + R % p.G;
      const bool valid = t < s.T;
      hi[half] = valid ? s.S - s.T + t : -1;
      lse2[half] = valid ? __ldg(a.lse + (b * s.H + h) * s.T + t) * kLog2e : 0.0f;
      di[half] = valid ? __ldg(delta + (b * s.H + h) * s.T + t) : 0.0f;
    }
    auto row_of = [&](const uint16_t* base, int r) -> const uint16_t* {
      const int64_t R = row0 + r, t = R / p.G, h = kvh * p.G + R % p.G;
      return t < s.T ? base + ((b * s.T + t) * s.H + h) * s.D : nullptr;
    };
    auto load_kv = [&](int stage, int64_t k0) {
      uint16_t* kt = stages + stage * Tile::kStageElems;
      const int64_t offset = ((b * s.Smax + k0) * s.KVH + kvh) * s.D, left = hi_block - k0;
      const int rows = left >= kBwdRows - 1 ? kBwdRows : static_cast<int>(left) + 1;
      load_tile<kD, kBwdRows>(kt, [&](int r) { return r < rows ? a.k + offset + r * kv_row_stride : nullptr; }, a.k, s.D, tid);
      load_tile<kD, kBwdRows>(kt + Tile::kSmallElems, [&](int r) { return r < rows ? a.v + offset + r * kv_row_stride : nullptr; },
                              a.v, s.D, tid);
    };

    __syncthreads();
    load_tile<kD>(qs, [&](int r) { return row_of(a.q, r); }, a.q, s.D, tid);
    load_tile<kD>(dos, [&](int r) { return row_of(a.dout, r); }, a.dout, s.D, tid);
    if (key_tiles > 0) load_kv(0, lo);
    cp_async_commit();

    float dq[DN][4];
#pragma unroll
    for (int n = 0; n < DN; ++n)
#pragma unroll
      for (int i = 0; i < 4; ++i) dq[n][i] = 0.0f;

    for (int j = 0; j < key_tiles; ++j) {
      cp_async_wait<0>();
      __syncthreads();
      if (j + 1 < key_tiles) load_kv((j + 1) % 2, lo + int64_t{j + 1} * kBwdRows);
      cp_async_commit();
      const uint16_t* kt = stages + (j % 2) * Tile::kStageElems;
      const uint16_t* vt = kt + Tile::kSmallElems;
      const int64_t k0 = lo + int64_t{j} * kBwdRows;
      int limit[2];
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int64_t left = hi[half] - k0;
        limit[half] = left < 0 ? -1 : (left >= kBwdRows ? kBwdRows : static_cast<int>(left));
      }
      // S = Q K^T, dP = dout V^T: A = the warp's 16 rows, B[k = d][n = key] K-major.
      float sc[SN][4], dp[SN][4];
#pragma unroll
      for (int n = 0; n < SN; ++n)
#pragma unroll
        for (int i = 0; i < 4; ++i) sc[n][i] = dp[n][i] = 0.0f;
#pragma unroll
      for (int kk = 0; kk < KB; ++kk) {
        uint32_t aq[4], ag[4];
        const int m = warp * 16 + lane % 16, k = kk * 16 + (lane / 16) * 8;
        ldmatrix_x4(aq, qs + m * kStride + k);
        ldmatrix_x4(ag, dos + m * kStride + k);
#pragma unroll
        for (int pp = 0; pp < SN / 2; ++pp) {
          const int n = pp * 16 + lane % 8 + (lane / 16) * 8, kd = kk * 16 + ((lane / 8) & 1) * 8;
          uint32_t r[4];
          ldmatrix_x4(r, kt + n * kStride + kd);
          const uint32_t k0f[2] = {r[0], r[1]}, k1f[2] = {r[2], r[3]};
          mma_m16n8k16_bf16_f32(sc[2 * pp], aq, k0f, sc[2 * pp]);
          mma_m16n8k16_bf16_f32(sc[2 * pp + 1], aq, k1f, sc[2 * pp + 1]);
          ldmatrix_x4(r, vt + n * kStride + kd);
          const uint32_t v0f[2] = {r[0], r[1]}, v1f[2] = {r[2], r[3]};
          mma_m16n8k16_bf16_f32(dp[2 * pp], ag, v0f, dp[2 * pp]);
          mma_m16n8k16_bf16_f32(dp[2 * pp + 1], ag, v1f, dp[2 * pp + 1]);
        }
      }
#pragma unroll
      for (int n = 0; n < SN; ++n)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int c = 8 * n + 2 * t4 + (i & 1), half = i >> 1;
          const float prob = c <= limit[half] ? exp2f(sc[n][i] * scale2 - lse2[half]) : 0.0f;
          dp[n][i] = prob * (dp[n][i] - di[half]);
        }
      // dq += dS K: A = dS over k = keys, B[k = key][n = d] = K[key][d] N-major.
#pragma unroll
      for (int kb = 0; kb < kBwdRows / 16; ++kb) {
        const uint32_t df[4] = {pack_bf16x2(dp[2 * kb][0], dp[2 * kb][1]), pack_bf16x2(dp[2 * kb][2], dp[2 * kb][3]),
                                pack_bf16x2(dp[2 * kb + 1][0], dp[2 * kb + 1][1]),
                                pack_bf16x2(dp[2 * kb + 1][2], dp[2 * kb + 1][3])};
#pragma unroll
        for (int pp = 0; pp < DN / 2; ++pp) {
          const int k = kb * 16 + lane % 8 + ((lane / 8) & 1) * 8, n = pp * 16 + (lane / 16) * 8;
          uint32_t r[4];
          ldmatrix_x4_trans(r, kt + k * kStride + n);
          const uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
          mma_m16n8k16_bf16_f32(dq[2 * pp], df, b0, dq[2 * pp]);
          mma_m16n8k16_bf16_f32(dq[2 * pp + 1], df, b1, dq[2 * pp + 1]);
        }
      }
    }
    cp_async_wait<0>();

#pragma unroll
    for (int half = 0; half < 2; ++half) {
      if (hi[half] < 0) continue;  // a padding row of the tile
      const int64_t R = row0 + warp * 16 + g4 + 8 * half, t = R / p.G, h = kvh * p.G + R % p.G;
      float* out = a.dq + ((b * s.T + t) * s.H + h) * s.D;
#pragma unroll
      for (int n = 0; n < DN; ++n) {
        const int64_t d = 8 * n + 2 * t4;
        if (d >= s.D) continue;
        out[d] = fmaf(dq[n][2 * half], s.scale, out[d]);
        out[d + 1] = fmaf(dq[n][2 * half + 1], s.scale, out[d + 1]);
      }
    }
  }
}

// bf16 bits -> float32, exact.
__global__ void __launch_bounds__(256) widen_bf16_kernel(float* out, const uint16_t* in, int64_t n) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = __uint_as_float(static_cast<uint32_t>(__ldg(in + i)) << 16);
}

unsigned grid_of(int64_t blocks) { return static_cast<unsigned>(blocks < (int64_t{1} << 30) ? blocks : (int64_t{1} << 30)); }

std::shared_ptr<DeviceAllocation> widened(const uint16_t* in, int64_t n) {
  auto out = allocate(static_cast<size_t>(n) * sizeof(float));
  if (n > 0) STEPRL_LAUNCH(widen_bf16_kernel, grid_of(ceil_div(n, 256)), 256, 0, stream(), out->as<float>(), in, n);
  return out;
}

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

template <int kD>
void forward(const AttentionBf16ForwardArgs& a, const FlashProblem& p) {
  constexpr size_t bytes = FlashTile<kD>::kSharedBytes;
  if (bytes > 48 * 1024) {
    static const bool opted_in = [] {  // once per instantiation
      STEPRL_CUDA_CHECK(cudaFuncSetAttribute(flash_attention_forward_kernel<kD>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
      return true;
    }();
    (void)opted_in;
  }
  STEPRL_LAUNCH(flash_attention_forward_kernel<kD>, grid_of(p.s.B * p.s.KVH * p.tiles), kThreads, bytes, stream(), a, p);
}

template <int kD>
void backward(const AttentionBf16BackwardArgs& a, const float* delta, const FlashProblem& p) {
  constexpr size_t bytes = BackwardTile<kD>::kSharedBytes;
  static const bool opted_in = [] {  // once per instantiation
    if (bytes > 48 * 1024) {
      STEPRL_CUDA_CHECK(cudaFuncSetAttribute(flash_attention_dkdv_kernel<kD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(bytes)));
      STEPRL_CUDA_CHECK(cudaFuncSetAttribute(flash_attention_dq_kernel<kD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(bytes)));
    }
    return true;
  }();
  (void)opted_in;
  const int64_t key_tiles = ceil_div(p.s.S, kBlockRows);
  STEPRL_LAUNCH(flash_attention_dkdv_kernel<kD>, grid_of(p.s.B * p.s.KVH * key_tiles), kThreads, bytes, stream(), a, delta,
                p, key_tiles);
  STEPRL_LAUNCH(flash_attention_dq_kernel<kD>, grid_of(p.s.B * p.s.KVH * p.tiles), kThreads, bytes, stream(), a, delta, p);
}

bool tensor_core_path(const AttentionShape& s, std::initializer_list<const void*> tensors) {
  bool ok = s.D % 8 == 0 && s.D <= kFlashAttentionMaxHeadDim;
  for (const void* t : tensors) ok = ok && aligned16(t);
  return ok;
}

}  // namespace

void attention_bf16_forward_cuda(const AttentionBf16ForwardArgs& a) {
  const AttentionShape& s = a.shape;
  if (s.B == 0 || s.T == 0) return;
  if (!tensor_core_path(s, {a.q, a.k, a.v})) {  // exact widening, then the fp32 kernels
    const int64_t nq = s.B * s.T * s.H * s.D, nkv = s.B * s.Smax * s.KVH * s.D;
    const auto q = widened(a.q, nq), k = widened(a.k, nkv), v = widened(a.v, nkv);
    attention_forward_cuda({a.out, a.lse, q->as<float>(), k->as<float>(), v->as<float>(), a.kv_start, s});
    return;
  }
  FlashProblem p{s, s.H / s.KVH, 0};
  p.tiles = ceil_div(s.T * p.G, kBlockRows);
  if (s.D <= 64) forward<64>(a, p);
  else forward<128>(a, p);
}

void attention_bf16_backward_cuda(const AttentionBf16BackwardArgs& a) {
  const AttentionShape& s = a.shape;
  if (s.B == 0 || s.T == 0) return;
  if (tensor_core_path(s, {a.q, a.k, a.v, a.dout})) {
    FlashProblem p{s, s.H / s.KVH, 0};
    p.tiles = ceil_div(s.T * p.G, kBlockRows);
    const auto delta = allocate(static_cast<size_t>(s.B * s.H * s.T) * sizeof(float));
    STEPRL_LAUNCH(flash_attention_delta_kernel, grid_of(ceil_div(s.B * s.T * s.H, 8)), 256, 0, stream(), delta->as<float>(),
                  a.dout, a.out, s);
    if (s.D <= 64) backward<64>(a, delta->as<float>(), p);
    else backward<128>(a, delta->as<float>(), p);
    return;
  }
  const int64_t nq = s.B * s.T * s.H * s.D, nkv = s.B * s.Smax * s.KVH * s.D;
  const auto dout = widened(a.dout, nq), q = widened(a.q, nq), k = widened(a.k, nkv), v = widened(a.v, nkv);
  attention_backward_cuda({a.dq, a.dk, a.dv, dout->as<float>(), a.out, a.lse, q->as<float>(), k->as<float>(),
                           v->as<float>(), a.kv_start, s});
}

}  // namespace steprl::cuda
