// flash_attention_backward.cu: the backward of cuda/flash_attention.cu's bf16 tensor-core attention
// (cuda/flash_attention.h), FlashAttention-2's Algorithm 2 split into two passes so that every
// gradient element has one owner and one summation order: no atomics, the same bits on every run.
// Geometry, tile loader and the warp tile products are cuda/flash_attention_tile.cuh's.
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
// Sizes (ptxas -v, CUDA 13, sm_90; nothing measured on a GPU), 128 threads a block:
//   dk/dv    kD = 128: 250 registers, 70,656 B: 2 blocks; kD = 64: 168 registers on sm_80, 171 on
//            sm_90, 37,888 B: 2 blocks on sm_90 (168 would give 3; the variants of the write-out that
//            reached 168 there spilled).
//   dq       kD = 128: 227-228 registers, 70,656 B: 2 blocks; kD = 64: 163 registers: 3.
// No spills.
#include "flash_attention.h"

#include "attention.h"
#include "common.cuh"
#include "device.h"
#include "flash_attention_tile.cuh"
#include "tensor_core.cuh"

namespace steprl::cuda {
namespace {

using namespace flash;

constexpr int kBwdRows = 32;  // query rows per tile of the dk/dv pass, keys per tile of the dq pass

template <int kD>
struct BackwardTile {
  static constexpr int kStride = kRowStride<kD>;
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
  constexpr int DN = kD / 8, SN = kBwdRows / 8;
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
    zero_accumulators(dk);
    zero_accumulators(dv);

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
      scores_x2<kD>(sc, dp, ks, vs, qs, dos, warp, lane);
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
        uint32_t pf[4], df[4];
        pack_a(pf, sc, kb);
        pack_a(df, dp, kb);
        mma_nmajor_x2<kD>(dv, pf, dos, dk, df, qs, lane, kb);
      }
    }
    cp_async_wait<0>();

#pragma unroll
    for (int half = 0; half < 2; ++half) {
      if (!key_ok[half]) continue;
      const int64_t offset = ((b * s.Smax + key[half]) * s.KVH + kvh) * s.D;
      add_row<kD>(a.dk + offset, dk, half, t4, s.D, s.scale);
      add_row<kD>(a.dv + offset, dv, half, t4, s.D, 1.0f);  // fma(x, 1, y) = x + y exactly
    }
  }
}

template <int kD>
__global__ void __launch_bounds__(kThreads)
flash_attention_dq_kernel(const AttentionBf16BackwardArgs a, const float* delta, const FlashProblem p) {
  using Tile = BackwardTile<kD>;
  constexpr int DN = kD / 8, SN = kBwdRows / 8;
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
    const QueryBlock qb = query_block<kBwdRows>(p, a.kv_start, tile, b);
    const int64_t row0 = qb.row0, lo = qb.lo, hi_block = qb.hi_block;
    const int key_tiles = qb.key_tiles;
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
    zero_accumulators(dq);

    for (int j = 0; j < key_tiles; ++j) {
      cp_async_wait<0>();
      __syncthreads();
      if (j + 1 < key_tiles) load_kv((j + 1) % 2, lo + int64_t{j + 1} * kBwdRows);
      cp_async_commit();
      const uint16_t* kt = stages + (j % 2) * Tile::kStageElems;
      const uint16_t* vt = kt + Tile::kSmallElems;
      const int64_t k0 = lo + int64_t{j} * kBwdRows;
      const int limit[2] = {visible_limit<kBwdRows>(hi[0], k0), visible_limit<kBwdRows>(hi[1], k0)};
      // S = Q K^T, dP = dout V^T: A = the warp's 16 rows, B[k = d][n = key] K-major.
      float sc[SN][4], dp[SN][4];
      scores_x2<kD>(sc, dp, qs, dos, kt, vt, warp, lane);
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
        uint32_t df[4];
        pack_a(df, dp, kb);
        mma_nmajor<kD>(dq, df, kt, lane, kb);
      }
    }
    cp_async_wait<0>();

#pragma unroll
    for (int half = 0; half < 2; ++half) {
      if (hi[half] < 0) continue;  // a padding row of the tile
      const int64_t R = row0 + warp * 16 + g4 + 8 * half, t = R / p.G, h = kvh * p.G + R % p.G;
      add_row<kD>(a.dq + ((b * s.T + t) * s.H + h) * s.D, dq, half, t4, s.D, s.scale);
    }
  }
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

}  // namespace

void attention_bf16_backward_cuda(const AttentionBf16BackwardArgs& a) {
  const AttentionShape& s = a.shape;
  if (s.B == 0 || s.T == 0) return;
  if (flash::tensor_core_path(s, {a.q, a.k, a.v, a.dout})) {
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
  const auto dout = flash::widened(a.dout, nq), q = flash::widened(a.q, nq), k = flash::widened(a.k, nkv),
             v = flash::widened(a.v, nkv);
  attention_backward_cuda({a.dq, a.dk, a.dv, dout->as<float>(), a.out, a.lse, q->as<float>(), k->as<float>(),
                           v->as<float>(), a.kv_start, s});
}

}  // namespace steprl::cuda
