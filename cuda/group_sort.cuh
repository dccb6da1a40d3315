// group_sort.cuh: rows grouped by arbitrary int32 ids on the device, for the group statistics of
// group_advantage, prpo_advantage and process_grpo_advantage (ALGORITHMS.md §0: groups keyed by id,
// not by contiguity):
//   1. keys = (id as an ordered unsigned) << 32 | row, so sorting groups the rows and keeps each
//      group's rows ascending, deterministically (every key is distinct);
//   2. a bitonic sort: 2048-key tiles in shared memory, then one global compare-exchange launch per
//      merge step wider than a tile;
//   3. for_each_group: one warp per 32 sorted positions finds the group heads (a ballot) and runs
//      `body(start, end)` with the whole warp for each, so per-group sums are lane-strided plus a
//      butterfly in a fixed order.
// R < 2^31 (rows fit the key's low word). O(R log² R) compare-exchanges: microseconds at RL batch sizes.
// The key pass reads every row once, so it can also note the first row whose value is not finite
// (groupAdvantages' rewards), saving that op a launch.
#pragma once

#include <cmath>
#include <memory>
#include <string>

#include "common.cuh"
#include "device.h"

namespace steprl::cuda {
namespace {  // internal linkage: each including .cu gets its own kernels
namespace group_sort {

using Key = unsigned long long;
constexpr int kSortThreads = 1024;
constexpr int64_t kTile = 2 * kSortThreads;
constexpr int kGroupThreads = 256;  // threads per block of a for_each_group kernel

__device__ __forceinline__ uint32_t key_group(Key k) { return static_cast<uint32_t>(k >> 32); }
__device__ __forceinline__ int64_t key_row(Key k) { return static_cast<int64_t>(k & 0xffffffffull); }

// values may be null; otherwise the first i < R with a non-finite values[i] goes to *bad_value.
__global__ void group_keys_kernel(Key* keys, const int32_t* group_ids,       // [n], [R]
                                  const float* values, unsigned long long* bad_value,  // [R] or null
                                  int64_t R, int64_t n) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride) {
    const uint32_t ordered = static_cast<uint32_t>(group_ids[i < R ? i : 0]) ^ 0x80000000u;  // signed order
    keys[i] = i < R ? (static_cast<Key>(ordered) << 32) | static_cast<Key>(i) : ~Key{0};  // padding sorts last
    if (values != nullptr && i < R && !isfinite(values[i])) atomicMin(bad_value, static_cast<unsigned long long>(i));
  }
}

__device__ __forceinline__ void compare_exchange(Key& a, Key& b, bool ascending) {
  if ((a > b) == ascending) {
    const Key t = a;
    a = b;
    b = t;
  }
}
// The lower index of pair t in a compare-exchange step of distance j.
__device__ __forceinline__ int64_t pair_low(int64_t t, int64_t j) { return 2 * t - (t & (j - 1)); }

// Stages k_begin .. k_end of the bitonic network on each tile, distances below the tile.
__global__ void __launch_bounds__(kSortThreads)
bitonic_tile_kernel(Key* keys, int64_t n, int64_t k_begin, int64_t k_end) {  // keys [n]
  __shared__ Key tile[kTile];
  const int64_t tile_n = n < kTile ? n : kTile;
  const int64_t base = int64_t{blockIdx.x} * tile_n;
  for (int64_t t = threadIdx.x; t < tile_n; t += blockDim.x) tile[t] = keys[base + t];
  __syncthreads();
  for (int64_t k = k_begin; k <= k_end; k <<= 1) {
    for (int64_t j = (k < tile_n ? k : tile_n) / 2; j > 0; j >>= 1) {
      for (int64_t t = threadIdx.x; t < tile_n / 2; t += blockDim.x) {
        const int64_t i = pair_low(t, j);
        compare_exchange(tile[i], tile[i + j], ((base + i) & k) == 0);
      }
      __syncthreads();
    }
  }
  for (int64_t t = threadIdx.x; t < tile_n; t += blockDim.x) keys[base + t] = tile[t];
}

// One compare-exchange step of distance j >= tile in stage k, in global memory.
__global__ void bitonic_step_kernel(Key* keys, int64_t n, int64_t k, int64_t j) {  // keys [n]
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t t = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; t < n / 2; t += stride) {
    const int64_t i = pair_low(t, j);
    Key a = keys[i], b = keys[i + j];
    compare_exchange(a, b, (i & k) == 0);
    keys[i] = a;
    keys[i + j] = b;
  }
}

inline unsigned grid_for(int64_t n, int threads) {
  const int64_t blocks = ceil_div(n, threads);
  return static_cast<unsigned>(blocks < 65535 ? blocks : 65535);
}

// The R row keys sorted by (group id, row), in a device allocation of at least R keys. R >= 1.
// `op` names the caller in the row-count error; with `values` [R], the first row whose value is not
// finite is noted in *bad_value (an ErrorIndex word), read by the caller.
inline std::shared_ptr<DeviceAllocation> sorted_keys(const int32_t* group_ids, int64_t R, const char* op = "a group op",
                                                     const float* values = nullptr, unsigned long long* bad_value = nullptr) {
  if (R >= (int64_t{1} << 31))
    throw ArgumentError("rows", std::string("Expected fewer than 2^31 rows for ") + op + " on cuda but received " + std::to_string(R));
  int64_t n = 2;
  while (n < R) n <<= 1;
  auto memory = allocate(static_cast<size_t>(n) * sizeof(Key));
  Key* keys = memory->as<Key>();
  STEPRL_LAUNCH(group_keys_kernel, grid_for(n, 256), 256, 0, stream(), keys, group_ids, values, bad_value, R, n);
  const int64_t tile_n = n < kTile ? n : kTile;
  const unsigned tiles = static_cast<unsigned>(n / tile_n);
  const int threads = static_cast<int>(tile_n / 2 < kSortThreads ? tile_n / 2 : kSortThreads);
  STEPRL_LAUNCH(bitonic_tile_kernel, tiles, threads, 0, stream(), keys, n, int64_t{2}, tile_n);
  for (int64_t k = 2 * kTile; k <= n; k <<= 1) {
    for (int64_t j = k / 2; j >= kTile; j >>= 1)
      STEPRL_LAUNCH(bitonic_step_kernel, grid_for(n / 2, 256), 256, 0, stream(), keys, n, k, j);
    STEPRL_LAUNCH(bitonic_tile_kernel, tiles, threads, 0, stream(), keys, n, k, k);
  }
  return memory;
}

// Blocks of kGroupThreads for a for_each_group kernel over R sorted positions.
inline unsigned group_blocks(int64_t R) { return static_cast<unsigned>(ceil_div(R, kGroupThreads)); }

// body(start, end): sorted positions [start, end) of one group; called by all 32 lanes together.
template <typename Body>
__device__ __forceinline__ void for_each_group(const Key* keys, int64_t R, Body body) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t first = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) / kWarpSize * kWarpSize;
  const int64_t p = first + lane;
  const bool head = p < R && (p == 0 || key_group(keys[p]) != key_group(keys[p - 1]));
  for (unsigned heads = warp_ballot(head); heads != 0u; heads &= heads - 1u) {
    const int64_t start = first + (__ffs(static_cast<int>(heads)) - 1);
    const uint32_t group = key_group(keys[start]);
    int64_t end = start + 1;
    for (int64_t q0 = start + 1;; q0 += kWarpSize) {
      const int64_t q = q0 + lane;
      const unsigned stops = warp_ballot(q >= R || key_group(keys[q]) != group);
      if (stops != 0u) {
        end = q0 + (__ffs(static_cast<int>(stops)) - 1);
        break;
      }
    }
    body(start, end);
  }
}

}  // namespace group_sort
}  // namespace
}  // namespace steprl::cuda
