// attention.cu: causal grouped-query attention with a KV cache, forward and backward (cuda/attention.h;
// the CPU statement is native/cpu/attention.cc), FlashAttention-2's algorithm on fp32 CUDA cores.
// A block owns one kv head of one batch row and a tile of 32 "rows": for the forward and dq, the
// stacked queries R = t*G + g of the G query heads sharing that kv head (each K/V tile is loaded
// once for all of them); for dk/dv, 32 keys. Tiles of whole heads live in shared memory
// (attention_tile.cuh), q pre-scaled by scale*log2(e) so every exponential is an exp2f.
//   forward  for each key tile in [kvStart, last visible key]: scores (thread = row x 8 or 4 keys,
//            fmaf chains over the head), the causal / left-padding / kvLength mask, the online
//            softmax update of (max, sum, out) in registers (out: the row's lanes split the head in
//            16-byte quads), p through shared memory into out += p v. lse = ln2 (max + log2 sum).
//   backward Di = dout . out per query (one warp each), then two passes, so every gradient element
//            has one owner and one summation order (no atomics: the same bits on every run):
//            dk/dv: a block per 32 keys walks the query tiles that can see them, recomputing
//                   P = 2^(s - lse) and dS = P (dout.v - Di), accumulating dv += P^T dout and
//                   dk += dS^T q in registers;
//            dq:    a block per query tile walks the key tiles, recomputing dS, dq += dS k.
// Work and bytes (H100, fp32 FFMA peak ~67 TFLOP/s): forward 4*B*H*T*S_avg*D FLOPs (S_avg ~ S/2
// causal), backward ~2.5x that (scores recomputed twice). The score stage reads one 16-byte
// shared word per 4 FMAs per key (q stays in the quad loop's register), the p.v stage one per 4
// FMAs too, so shared-memory bandwidth (~128 B/clk/SM) bounds it near 1/2 of the FFMA peak;
// with the masking, exp2 and the 32x32 tiles' syncs, expect ~25-35% of peak for T >= 256 (no
// tensor cores: TF32 would miss the 2e-5 / 1e-4 contract). HBM traffic is q, k, v, out once per
// query tile (~16*B*T*H*D*(1 + S/(32*G)) bytes), far below the compute time. Decoding (T = 1)
// uses G of the 32 rows of a tile and one block per (b, kv head): bandwidth-bound on the cache
// read, fine for B*KVH >= ~100 blocks; a split-KV (flash-decoding) pass is left for later.
#include "attention.h"

#include <string>

#include "attention_tile.cuh"
#include "common.cuh"
#include "device.h"

namespace steprl::cuda {
namespace {

using namespace attention_tile;

struct Problem {
  AttentionShape s;
  int64_t G;      // query heads per kv head
  int64_t tiles;  // 32-row tiles of stacked queries (T*G rows) per (b, kv head)
  bool vec;       // every tensor 16-byte aligned and D % 4 == 0
};

__device__ __forceinline__ int64_t kv_start_of(const int32_t* kv_start, int64_t b, int64_t S) {
  if (kv_start == nullptr) return 0;
  const int64_t v = __ldg(kv_start + b);
  return v < 0 ? 0 : (v > S ? S : v);  // validated on the host; clamped so no input can leave k/v
}

template <int kD, int kThreads>
__global__ void __launch_bounds__(kThreads, 512 / kThreads)  // (the register cap also steers ptxas off a spill at kD = 32)
attention_forward_kernel(AttentionForwardArgs a, Problem p) {
  using Geo = Geometry<kD, kThreads>;
  constexpr int kLanes = Geo::kLanes, kStride = Geo::kStride, kQ = Geo::kQuadsPerLane, kC = Geo::kColumnsPerLane;
  STEPRL_DYNAMIC_SHARED(float, smem);
  float* qs = smem;                       // [32][kStride]  q * scale * log2(e)
  float* ks = qs + Geo::kTileFloats;      // [32][kStride]
  float* vs = ks + Geo::kTileFloats;      // [32][kStride]
  float* ps = vs + Geo::kTileFloats;      // [32][33]       probabilities of the current key tile
  const AttentionShape& s = p.s;
  const int tid = static_cast<int>(threadIdx.x), row = tid / kLanes, lane = tid % kLanes;
  const float q_scale = s.scale * kLog2e;
  for (int64_t block = blockIdx.x; block < s.B * s.KVH * p.tiles; block += gridDim.x) {
    const int64_t tile = block % p.tiles, b = block / p.tiles / s.KVH, kvh = block / p.tiles % s.KVH;
    const int64_t R = tile * kRows + row, t = R / p.G, h = kvh * p.G + R % p.G;
    const bool valid_row = t < s.T;
    const int64_t lo = kv_start_of(a.kv_start, b, s.S);
    const int64_t hi = valid_row ? s.S - s.T + t : -1;  // last visible key of this row
    const int64_t t_last = (tile * kRows + kRows - 1) / p.G < s.T - 1 ? (tile * kRows + kRows - 1) / p.G : s.T - 1;
    const int64_t hi_block = s.S - s.T + t_last;
    __syncthreads();  // the previous block's tiles are no longer read
    load_row<kD, kLanes>(qs + row * kStride, valid_row ? a.q + ((b * s.T + t) * s.H + h) * s.D : nullptr, s.D, q_scale,
                         p.vec, lane);
    float m = -INFINITY, l = 0.0f;
    float4 o[kQ];
#pragma unroll
    for (int i = 0; i < kQ; ++i) o[i] = make_float4(0.f, 0.f, 0.f, 0.f);
    for (int64_t s0 = lo; s0 <= hi_block; s0 += kRows) {
      __syncthreads();  // the previous key tile is no longer read
      const int64_t key = s0 + row;  // the key row this thread loads
      const int64_t kv_offset = ((b * s.Smax + key) * s.KVH + kvh) * s.D;
      load_row<kD, kLanes>(ks + row * kStride, key <= hi_block ? a.k + kv_offset : nullptr, s.D, 1.0f, p.vec, lane);
      load_row<kD, kLanes>(vs + row * kStride, key <= hi_block ? a.v + kv_offset : nullptr, s.D, 1.0f, p.vec, lane);
      __syncthreads();
      float score[kC];
#pragma unroll
      for (int j = 0; j < kC; ++j) score[j] = 0.0f;
      for (int quad = 0; quad < kD / 4; ++quad) {
        const float4 q4 = smem4(qs + row * kStride + 4 * quad);
#pragma unroll
        for (int j = 0; j < kC; ++j) score[j] = dot4(q4, smem4(ks + (lane + kLanes * j) * kStride + 4 * quad), score[j]);
      }
      float tile_max = -INFINITY;
#pragma unroll
      for (int j = 0; j < kC; ++j) {
        const int64_t sj = s0 + lane + kLanes * j;
        if (sj < lo || sj > hi) score[j] = -INFINITY;
        tile_max = fmaxf(tile_max, score[j]);
      }
      const float m_new = fmaxf(m, row_max<kLanes>(tile_max));
      float alpha = 1.0f, sum = 0.0f;
      if (m_new != -INFINITY) {
        alpha = exp2f(m - m_new);  // 0 while nothing was valid (m = -inf)
#pragma unroll
        for (int j = 0; j < kC; ++j) {
          score[j] = exp2f(score[j] - m_new);
          sum += score[j];
        }
      } else {
#pragma unroll
        for (int j = 0; j < kC; ++j) score[j] = 0.0f;
      }
      l = l * alpha + row_sum<kLanes>(sum);
      m = m_new;
#pragma unroll
      for (int j = 0; j < kC; ++j) ps[row * Geo::kScoreStride + lane + kLanes * j] = score[j];
#pragma unroll
      for (int i = 0; i < kQ; ++i) o[i] = make_float4(o[i].x * alpha, o[i].y * alpha, o[i].z * alpha, o[i].w * alpha);
      __syncwarp();  // the row's probabilities, written by its lanes, are read by all of them
      for (int j = 0; j < kRows; ++j) {
        const float pj = ps[row * Geo::kScoreStride + j];
#pragma unroll
        for (int i = 0; i < kQ; ++i) o[i] = fma4(pj, smem4(vs + j * kStride + 4 * (lane + kLanes * i)), o[i]);
      }
    }
    if (!valid_row) continue;
    float* out = a.out + ((b * s.T + t) * s.H + h) * s.D;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
    for (int i = 0; i < kQ; ++i) {
      const int64_t d = 4 * int64_t{lane + kLanes * i};
      if (d >= s.D) continue;
      const float4 r = make_float4(o[i].x * inv, o[i].y * inv, o[i].z * inv, o[i].w * inv);
      if (p.vec) {
        store_float4(out + d, r);
      } else {
        out[d] = r.x;
        if (d + 1 < s.D) out[d + 1] = r.y;
        if (d + 2 < s.D) out[d + 2] = r.z;
        if (d + 3 < s.D) out[d + 3] = r.w;
      }
    }
    if (lane == 0) a.lse[(b * s.H + h) * s.T + t] = l > 0.0f ? (m + log2f(l)) * kLn2 : -INFINITY;
  }
}

// delta[b,h,t] = dout . out over the head: one warp per (b, t, h).
__global__ void __launch_bounds__(256)
attention_delta_kernel(float* delta, const float* dout, const float* out, AttentionShape s, bool vec) {  // [B,H,T], [B,T,H,D] x2
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int64_t warps = int64_t{gridDim.x} * blockDim.x / kWarpSize;
  for (int64_t r = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) / kWarpSize; r < s.B * s.T * s.H; r += warps) {
    const float* g = dout + r * s.D;
    const float* o = out + r * s.D;
    float sum = 0.0f;
    if (vec) {
      for (int64_t d = 4 * lane; d < s.D; d += 4 * kWarpSize) sum = dot4(load_float4(g + d), load_float4(o + d), sum);
    } else {
      for (int64_t d = lane; d < s.D; d += kWarpSize) sum = fmaf(__ldg(g + d), __ldg(o + d), sum);
    }
    sum = warp_reduce_sum(sum);
    const int64_t h = r % s.H, t = r / s.H % s.T, b = r / s.H / s.T;
    if (lane == 0) delta[(b * s.H + h) * s.T + t] = sum;
  }
}

// dk, dv for a tile of 32 keys: thread = key row x (8 or 4 query columns, and kQ quads of the head).
template <int kD, int kThreads>
__global__ void __launch_bounds__(kThreads)
attention_dkdv_kernel(AttentionBackwardArgs a, const float* delta, Problem p, int64_t key_tiles) {
  using Geo = Geometry<kD, kThreads>;
  constexpr int kLanes = Geo::kLanes, kStride = Geo::kStride, kQ = Geo::kQuadsPerLane, kC = Geo::kColumnsPerLane;
  STEPRL_DYNAMIC_SHARED(float, smem);
  float* ks = smem;                          // [32][kStride]  this block's keys
  float* vs = ks + Geo::kTileFloats;         // [32][kStride]
  float* qs = vs + Geo::kTileFloats;         // [32][kStride]  q * scale * log2(e) of the query tile
  float* dos = qs + Geo::kTileFloats;        // [32][kStride]  dout of the query tile
  float* ps = dos + Geo::kTileFloats;        // [32 keys][33]  P
  float* dss = ps + Geo::kScoreFloats;       // [32 keys][33]  dS
  float* row_lse = dss + Geo::kScoreFloats;  // [32] lse * log2(e)
  float* row_delta = row_lse + kRows;        // [32]
  int* row_hi = reinterpret_cast<int*>(row_delta + kRows);  // [32] last visible key (-1: padding row)
  const AttentionShape& s = p.s;
  const int tid = static_cast<int>(threadIdx.x), row = tid / kLanes, lane = tid % kLanes;
  const float q_scale = s.scale * kLog2e;
  for (int64_t block = blockIdx.x; block < s.B * s.KVH * key_tiles; block += gridDim.x) {
    const int64_t tile = block % key_tiles, b = block / key_tiles / s.KVH, kvh = block / key_tiles % s.KVH;
    const int64_t s0 = tile * kRows, lo = kv_start_of(a.kv_start, b, s.S);
    if (s0 + kRows <= lo) continue;  // every key of the tile is masked for every query
    const int64_t key = s0 + row;
    const bool valid_key = key < s.S && key >= lo;
    __syncthreads();
    const int64_t kv_offset = ((b * s.Smax + key) * s.KVH + kvh) * s.D;
    load_row<kD, kLanes>(ks + row * kStride, key < s.S ? a.k + kv_offset : nullptr, s.D, 1.0f, p.vec, lane);
    load_row<kD, kLanes>(vs + row * kStride, key < s.S ? a.v + kv_offset : nullptr, s.D, 1.0f, p.vec, lane);
    float4 dk[kQ], dv[kQ];
#pragma unroll
    for (int i = 0; i < kQ; ++i) dk[i] = dv[i] = make_float4(0.f, 0.f, 0.f, 0.f);
    // Queries that can see a key of this tile: t >= s0 - (S - T).
    const int64_t t_first = s0 - (s.S - s.T) > 0 ? s0 - (s.S - s.T) : 0;
    for (int64_t r0 = t_first * p.G; r0 < s.T * p.G; r0 += kRows) {
      __syncthreads();  // the previous query tile is no longer read
      const int64_t R = r0 + row, t = R / p.G, h = kvh * p.G + R % p.G;
      const bool valid_row = t < s.T;
      const int64_t q_offset = ((b * s.T + t) * s.H + h) * s.D;
      load_row<kD, kLanes>(qs + row * kStride, valid_row ? a.q + q_offset : nullptr, s.D, q_scale, p.vec, lane);
      load_row<kD, kLanes>(dos + row * kStride, valid_row ? a.dout + q_offset : nullptr, s.D, 1.0f, p.vec, lane);
      if (lane == 0) {
        row_lse[row] = valid_row ? __ldg(a.lse + (b * s.H + h) * s.T + t) * kLog2e : 0.0f;
        row_delta[row] = valid_row ? __ldg(delta + (b * s.H + h) * s.T + t) : 0.0f;
        row_hi[row] = valid_row ? static_cast<int>(s.S - s.T + t) : -1;
      }
      __syncthreads();
      float score[kC], dp[kC];
#pragma unroll
      for (int j = 0; j < kC; ++j) score[j] = dp[j] = 0.0f;
      for (int quad = 0; quad < kD / 4; ++quad) {
        const float4 k4 = smem4(ks + row * kStride + 4 * quad), v4 = smem4(vs + row * kStride + 4 * quad);
#pragma unroll
        for (int j = 0; j < kC; ++j) {
          const int r = lane + kLanes * j;
          score[j] = dot4(smem4(qs + r * kStride + 4 * quad), k4, score[j]);
          dp[j] = dot4(smem4(dos + r * kStride + 4 * quad), v4, dp[j]);
        }
      }
#pragma unroll
      for (int j = 0; j < kC; ++j) {
        const int r = lane + kLanes * j;
        const bool visible = valid_key && key <= row_hi[r];
        const float prob = visible ? exp2f(score[j] - row_lse[r]) : 0.0f;
        ps[row * Geo::kScoreStride + r] = prob;
        dss[row * Geo::kScoreStride + r] = prob * (dp[j] - row_delta[r]);
      }
      __syncwarp();
      for (int r = 0; r < kRows; ++r) {
        const float pr = ps[row * Geo::kScoreStride + r], dsr = dss[row * Geo::kScoreStride + r];
#pragma unroll
        for (int i = 0; i < kQ; ++i) {
          const int offset = r * kStride + 4 * (lane + kLanes * i);
          dv[i] = fma4(pr, smem4(dos + offset), dv[i]);
          dk[i] = fma4(dsr, smem4(qs + offset), dk[i]);
        }
      }
    }
    if (!valid_key) continue;
    // qs holds q * scale * log2(e): dk = scale dS^T q = ln2 * dS^T qs.
    add_row<kD, kLanes, kQ>(a.dk + kv_offset, dk, kLn2, s.D, p.vec, lane);
    add_row<kD, kLanes, kQ>(a.dv + kv_offset, dv, 1.0f, s.D, p.vec, lane);
  }
}

// dq for a tile of 32 stacked queries: thread = query row x (8 or 4 key columns, kQ quads).
template <int kD, int kThreads>
__global__ void __launch_bounds__(kThreads)
attention_dq_kernel(AttentionBackwardArgs a, const float* delta, Problem p) {
  using Geo = Geometry<kD, kThreads>;
  constexpr int kLanes = Geo::kLanes, kStride = Geo::kStride, kQ = Geo::kQuadsPerLane, kC = Geo::kColumnsPerLane;
  STEPRL_DYNAMIC_SHARED(float, smem);
  float* qs = smem;                      // [32][kStride]  q * scale * log2(e)
  float* dos = qs + Geo::kTileFloats;    // [32][kStride]
  float* ks = dos + Geo::kTileFloats;    // [32][kStride]
  float* vs = ks + Geo::kTileFloats;     // [32][kStride]
  float* dss = vs + Geo::kTileFloats;    // [32 rows][33]  dS
  const AttentionShape& s = p.s;
  const int tid = static_cast<int>(threadIdx.x), row = tid / kLanes, lane = tid % kLanes;
  const float q_scale = s.scale * kLog2e;
  for (int64_t block = blockIdx.x; block < s.B * s.KVH * p.tiles; block += gridDim.x) {
    const int64_t tile = block % p.tiles, b = block / p.tiles / s.KVH, kvh = block / p.tiles % s.KVH;
    const int64_t R = tile * kRows + row, t = R / p.G, h = kvh * p.G + R % p.G;
    const bool valid_row = t < s.T;
    const int64_t lo = kv_start_of(a.kv_start, b, s.S);
    const int64_t hi = valid_row ? s.S - s.T + t : -1;
    const int64_t t_last = (tile * kRows + kRows - 1) / p.G < s.T - 1 ? (tile * kRows + kRows - 1) / p.G : s.T - 1;
    const int64_t hi_block = s.S - s.T + t_last;
    const int64_t q_offset = ((b * s.T + t) * s.H + h) * s.D;
    __syncthreads();
    load_row<kD, kLanes>(qs + row * kStride, valid_row ? a.q + q_offset : nullptr, s.D, q_scale, p.vec, lane);
    load_row<kD, kLanes>(dos + row * kStride, valid_row ? a.dout + q_offset : nullptr, s.D, 1.0f, p.vec, lane);
    const float lse2 = valid_row ? __ldg(a.lse + (b * s.H + h) * s.T + t) * kLog2e : 0.0f;
    const float di = valid_row ? __ldg(delta + (b * s.H + h) * s.T + t) : 0.0f;
    float4 dq[kQ];
#pragma unroll
    for (int i = 0; i < kQ; ++i) dq[i] = make_float4(0.f, 0.f, 0.f, 0.f);
    for (int64_t s0 = lo; s0 <= hi_block; s0 += kRows) {
      __syncthreads();
      const int64_t key = s0 + row;
      const int64_t kv_offset = ((b * s.Smax + key) * s.KVH + kvh) * s.D;
      load_row<kD, kLanes>(ks + row * kStride, key <= hi_block ? a.k + kv_offset : nullptr, s.D, 1.0f, p.vec, lane);
      load_row<kD, kLanes>(vs + row * kStride, key <= hi_block ? a.v + kv_offset : nullptr, s.D, 1.0f, p.vec, lane);
      __syncthreads();
      float score[kC], dp[kC];
#pragma unroll
      for (int j = 0; j < kC; ++j) score[j] = dp[j] = 0.0f;
      for (int quad = 0; quad < kD / 4; ++quad) {
        const float4 q4 = smem4(qs + row * kStride + 4 * quad), g4 = smem4(dos + row * kStride + 4 * quad);
#pragma unroll
        for (int j = 0; j < kC; ++j) {
          const int c = lane + kLanes * j;
          score[j] = dot4(q4, smem4(ks + c * kStride + 4 * quad), score[j]);
          dp[j] = dot4(g4, smem4(vs + c * kStride + 4 * quad), dp[j]);
        }
      }
#pragma unroll
      for (int j = 0; j < kC; ++j) {
        const int64_t sj = s0 + lane + kLanes * j;
        const float prob = sj >= lo && sj <= hi ? exp2f(score[j] - lse2) : 0.0f;
        dss[row * Geo::kScoreStride + lane + kLanes * j] = prob * (dp[j] - di);
      }
      __syncwarp();
      for (int j = 0; j < kRows; ++j) {
        const float dsj = dss[row * Geo::kScoreStride + j];
#pragma unroll
        for (int i = 0; i < kQ; ++i) dq[i] = fma4(dsj, smem4(ks + j * kStride + 4 * (lane + kLanes * i)), dq[i]);
      }
    }
    if (valid_row) add_row<kD, kLanes, kQ>(a.dq + q_offset, dq, s.scale, s.D, p.vec, lane);
  }
}

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

constexpr int kMaxDefaultShared = 48 * 1024;

template <typename Kernel>
void allow_shared(Kernel kernel, size_t bytes) {
  if (bytes > kMaxDefaultShared)
    STEPRL_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

unsigned grid_of(int64_t blocks) { return static_cast<unsigned>(blocks < (int64_t{1} << 30) ? blocks : (int64_t{1} << 30)); }

Problem problem_of(const AttentionShape& s, std::initializer_list<const void*> tensors) {
  Problem p{s, s.H / s.KVH, 0, s.D % 4 == 0};
  p.tiles = ceil_div(s.T * p.G, kRows);
  for (const void* t : tensors) p.vec = p.vec && aligned16(t);
  return p;
}

// Dynamic shared memory of each kernel for one head size (padded) and block size.
template <int kD, int kThreads>
constexpr size_t forward_shared() {
  using Geo = Geometry<kD, kThreads>;
  return (3 * Geo::kTileFloats + Geo::kScoreFloats) * sizeof(float);
}
template <int kD, int kThreads>
constexpr size_t dkdv_shared() {
  using Geo = Geometry<kD, kThreads>;
  return (4 * Geo::kTileFloats + 2 * Geo::kScoreFloats + 3 * kRows) * sizeof(float);
}
template <int kD, int kThreads>
constexpr size_t dq_shared() {
  using Geo = Geometry<kD, kThreads>;
  return (4 * Geo::kTileFloats + Geo::kScoreFloats) * sizeof(float);
}
// The most any kernel of a pass (forward, or backward: dk/dv and dq) needs for padded head kd.
size_t shared_needed(int kd, bool backward) {
  auto pick = [backward](size_t f, size_t dkdv, size_t dq) { return backward ? (dkdv > dq ? dkdv : dq) : f; };
  switch (kd) {
    case 32: return pick(forward_shared<32, 128>(), dkdv_shared<32, 128>(), dq_shared<32, 128>());
    case 64: return pick(forward_shared<64, 128>(), dkdv_shared<64, 128>(), dq_shared<64, 128>());
    case 128: return pick(forward_shared<128, 128>(), dkdv_shared<128, 128>(), dq_shared<128, 128>());
    default: return pick(forward_shared<256, 256>(), dkdv_shared<256, 256>(), dq_shared<256, 256>());
  }
}
static_assert(dkdv_shared<256, 256>() == 141952, "the D = 256 dk/dv tiles need 141,952 bytes");
static_assert(dkdv_shared<128, 128>() <= 99 * 1024, "every head size up to 128 fits sm_86/sm_89's 99 KiB");

// Shared memory one block may opt in to on the current device: 227 KiB on sm_90, 163 KiB on
// sm_80, 99 KiB on sm_86/sm_89 (asked once; the device does not change).
size_t shared_limit() {
  static const size_t limit = [] {
    int device = 0, bytes = 0;
    STEPRL_CUDA_CHECK(cudaGetDevice(&device));
    STEPRL_CUDA_CHECK(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    return static_cast<size_t>(bytes);
  }();
  return limit;
}

// Rejects, before anything is launched, a head size whose tiles do not fit this GPU's shared
// memory (D in 129..256 on sm_86/sm_89), naming the limit and the largest head size that fits.
void require_shared_fits(int64_t D, int kd, bool backward) {
  const size_t needed = shared_needed(kd, backward), limit = shared_limit();
  if (needed <= limit) return;
  int fits = 0;
  for (int candidate : {32, 64, 128, 256})
    if (shared_needed(candidate, backward) <= limit) fits = candidate;
  throw ArgumentError("D", "Expected a head size D <= " + std::to_string(fits) + " for attention" +
                               (backward ? "Backward" : "") + " on this GPU, which allows " + std::to_string(limit) +
                               " bytes of shared memory per block (cudaDevAttrMaxSharedMemoryPerBlockOptin), but "
                               "received D = " + std::to_string(D) + ", whose tiles need " + std::to_string(needed) +
                               " bytes");
}

template <int kD, int kThreads>
void forward(const AttentionForwardArgs& a, const Problem& p) {
  const size_t shared = forward_shared<kD, kThreads>();
  allow_shared(attention_forward_kernel<kD, kThreads>, shared);
  STEPRL_LAUNCH((attention_forward_kernel<kD, kThreads>), grid_of(p.s.B * p.s.KVH * p.tiles), kThreads, shared, stream(), a, p);
}

template <int kD, int kThreads>
void backward(const AttentionBackwardArgs& a, const float* delta, const Problem& p) {
  const int64_t key_tiles = ceil_div(p.s.S, kRows);
  const size_t dkdv_bytes = dkdv_shared<kD, kThreads>();
  allow_shared(attention_dkdv_kernel<kD, kThreads>, dkdv_bytes);
  STEPRL_LAUNCH((attention_dkdv_kernel<kD, kThreads>), grid_of(p.s.B * p.s.KVH * key_tiles), kThreads, dkdv_bytes, stream(),
                a, delta, p, key_tiles);
  const size_t dq_bytes = dq_shared<kD, kThreads>();
  allow_shared(attention_dq_kernel<kD, kThreads>, dq_bytes);
  STEPRL_LAUNCH((attention_dq_kernel<kD, kThreads>), grid_of(p.s.B * p.s.KVH * p.tiles), kThreads, dq_bytes, stream(), a, delta, p);
}

int padded_head(int64_t D) {
  if (D > kAttentionMaxHeadDim)
    throw ArgumentError("D", "Expected a head size D <= " + std::to_string(kAttentionMaxHeadDim) + " on cuda but received " +
                                 std::to_string(D));
  return D <= 32 ? 32 : D <= 64 ? 64 : D <= 128 ? 128 : 256;
}

}  // namespace

void attention_forward_cuda(const AttentionForwardArgs& a) {
  const AttentionShape& s = a.shape;
  if (s.B == 0 || s.T == 0) return;
  const Problem p = problem_of(s, {a.out, a.q, a.k, a.v});
  require_shared_fits(s.D, padded_head(s.D), false);
  switch (padded_head(s.D)) {
    case 32: forward<32, 128>(a, p); break;
    case 64: forward<64, 128>(a, p); break;
    case 128: forward<128, 128>(a, p); break;
    default: forward<256, 256>(a, p); break;
  }
}

void attention_backward_cuda(const AttentionBackwardArgs& a) {
  const AttentionShape& s = a.shape;
  if (s.B == 0 || s.T == 0) return;
  const Problem p = problem_of(s, {a.dq, a.dk, a.dv, a.dout, a.out, a.q, a.k, a.v});
  const int kd = padded_head(s.D);
  require_shared_fits(s.D, kd, true);
  const auto delta = allocate(static_cast<size_t>(s.B * s.H * s.T) * sizeof(float));
  const int64_t rows = s.B * s.T * s.H;
  STEPRL_LAUNCH(attention_delta_kernel, grid_of(ceil_div(rows, 8)), 256, 0, stream(), delta->as<float>(), a.dout, a.out, s, p.vec);
  switch (kd) {
    case 32: backward<32, 128>(a, delta->as<float>(), p); break;
    case 64: backward<64, 128>(a, delta->as<float>(), p); break;
    case 128: backward<128, 128>(a, delta->as<float>(), p); break;
    default: backward<256, 256>(a, delta->as<float>(), p); break;
  }
}

}  // namespace steprl::cuda
