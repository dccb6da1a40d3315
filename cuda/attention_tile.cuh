// attention_tile.cuh: the pieces cuda/attention.cu's three kernels share: the tile geometry, the
// global -> shared loads of 32 head rows, and the fused dot products over a padded head.
// A tile is 32 rows (stacked query rows R = t*G + g of one kv head, or 32 keys) of kD floats
// (kD = the head size D rounded up to 32, 64, 128 or 256; the padding is zero), stored with a
// row stride of kD + 4 floats: 16-byte aligned rows whose float4 columns fall in distinct banks for
// neighbouring rows. Thread (row = tid / kLanes, lane = tid % kLanes) owns one tile row; its lanes
// split the row's 16-byte quads (quad = lane + kLanes * i) and, in the score stages, the 32
// columns (column = lane + kLanes * j). A row's lanes are adjacent lanes of one warp, so row-wise
// max and sum take log2(kLanes) xor-shuffles and a __syncwarp orders shared writes within a row.
#pragma once

#include "common.cuh"

namespace steprl::cuda {
namespace {
namespace attention_tile {

constexpr int kRows = 32;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2 = 0.693147180559945309f;

template <int kD, int kThreads>
struct Geometry {
  static constexpr int kLanes = kThreads / kRows;       // threads per tile row: 4 or 8
  static constexpr int kStride = kD + 4;                // floats per shared row
  static constexpr int kQuads = kD / 4;
  static constexpr int kQuadsPerLane = kQuads / kLanes; // accumulator float4s per thread
  static constexpr int kColumnsPerLane = kRows / kLanes;
  static constexpr int kTileFloats = kRows * kStride;
  static constexpr int kScoreStride = kRows + 1;        // [32][33] score / probability tiles
  static constexpr int kScoreFloats = kRows * kScoreStride;
  static_assert(kQuads % kLanes == 0 && kRows % kLanes == 0, "tile geometry");
};

// Loads one tile row: `src` (D floats, or nullptr for a padding row) times `scale` into `dst`
// (kD floats, zero past D), the calling lane taking quads lane, lane + kLanes, ...
// `vec`: src is 16-byte aligned and D % 4 == 0.
template <int kD, int kLanes>
__device__ __forceinline__ void load_row(float* dst, const float* src, int64_t D, float scale, bool vec, int lane) {
  for (int quad = lane; quad < kD / 4; quad += kLanes) {
    const int64_t d = 4 * int64_t{quad};
    float4 x = make_float4(0.f, 0.f, 0.f, 0.f);
    if (src != nullptr && d < D) {
      if (vec) {
        x = load_float4(src + d);
      } else {
        x.x = __ldg(src + d);
        x.y = d + 1 < D ? __ldg(src + d + 1) : 0.0f;
        x.z = d + 2 < D ? __ldg(src + d + 2) : 0.0f;
        x.w = d + 3 < D ? __ldg(src + d + 3) : 0.0f;
      }
    }
    *reinterpret_cast<float4*>(dst + d) = make_float4(x.x * scale, x.y * scale, x.z * scale, x.w * scale);
  }
}

__device__ __forceinline__ float4 smem4(const float* p) { return *reinterpret_cast<const float4*>(p); }

__device__ __forceinline__ float dot4(float4 a, float4 b, float acc) {
  acc = fmaf(a.x, b.x, acc);
  acc = fmaf(a.y, b.y, acc);
  acc = fmaf(a.z, b.z, acc);
  return fmaf(a.w, b.w, acc);
}

__device__ __forceinline__ float4 fma4(float s, float4 v, float4 acc) {
  return make_float4(fmaf(s, v.x, acc.x), fmaf(s, v.y, acc.y), fmaf(s, v.z, acc.z), fmaf(s, v.w, acc.w));
}

// Max / sum over the kLanes lanes of a tile row (every lane receives it).
template <int kLanes>
__device__ __forceinline__ float row_max(float v) {
  for (int offset = 1; offset < kLanes; offset <<= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}
template <int kLanes>
__device__ __forceinline__ float row_sum(float v) {
  for (int offset = 1; offset < kLanes; offset <<= 1) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

// Adds (or writes) a thread's kQuadsPerLane float4 accumulators, times `scale`, into a global row
// of D floats: 16-byte read-modify-writes when `vec`.
template <int kD, int kLanes, int kQuadsPerLane>
__device__ __forceinline__ void add_row(float* dst, const float4 (&acc)[kQuadsPerLane], float scale, int64_t D, bool vec,
                                        int lane) {
#pragma unroll
  for (int i = 0; i < kQuadsPerLane; ++i) {
    const int64_t d = 4 * int64_t{lane + kLanes * i};
    if (d >= D) continue;
    const float4 a = acc[i];
    if (vec) {
      STEPRL_CHECK_ALIGNED_16(dst + d);
      const float4 old = *reinterpret_cast<const float4*>(dst + d);
      store_float4(dst + d, make_float4(fmaf(a.x, scale, old.x), fmaf(a.y, scale, old.y), fmaf(a.z, scale, old.z),
                                        fmaf(a.w, scale, old.w)));
    } else {
      dst[d] = fmaf(a.x, scale, dst[d]);
      if (d + 1 < D) dst[d + 1] = fmaf(a.y, scale, dst[d + 1]);
      if (d + 2 < D) dst[d + 2] = fmaf(a.z, scale, dst[d + 2]);
      if (d + 3 < D) dst[d + 3] = fmaf(a.w, scale, dst[d + 3]);
    }
  }
}

}  // namespace attention_tile
}  // namespace
}  // namespace steprl::cuda
