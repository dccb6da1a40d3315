// group_advantage.cu: GRPO group-relative advantages over groups keyed by arbitrary int32 ids
// (rows of a group anywhere), A_i = (r_i - mu_g)/(sigma_g + eps) or r_i - mu_g (ALGORITHMS.md
// §1.5; the CPU statement is native/cpu/group_advantage.cc). Three steps:
//   1. keys: (id as an ordered unsigned, row) packed in 64 bits, so sorting them groups the rows
//      and keeps each group's rows ascending, deterministically (every key is distinct);
//   2. a bitonic sort: tiles of 2048 keys sorted in shared memory, and for longer inputs the
//      merge steps wider than a tile as one global compare-exchange launch each;
//   3. one warp per 32 sorted positions: each group head found by a ballot is processed by the
//      whole warp: float64 sum and the all-equal test, mean, float64 sum of squared deviations,
//      sigma (divisor G - 1 or G), then A for every row. Lane-strided sums plus a butterfly: the
//      same bits on every run (no atomics in any value). Divisions are reciprocals (__drcp_rn,
//      __dsqrt_rn): a '/' of doubles brings ptxas's slow-path subroutine and, here, a stack frame.
// Bytes and cost: O(R) traffic (ids, rewards, 8-byte keys) plus the sort's O(R log^2 R) shared
// memory compare-exchanges; for RL batch sizes (R = B*G <= ~64k) this is a few launches of
// microseconds each: latency-, not bandwidth-bound.
#include "group_advantage.h"

#include <cmath>
#include <string>

#include "common.cuh"
#include "device.h"

namespace steprl::cuda {
namespace {

using Key = unsigned long long;
constexpr int kSortThreads = 1024;
constexpr int64_t kTile = 2 * kSortThreads;  // keys per block in shared memory (16 KiB)
constexpr int kStatsThreads = 256;

__device__ __forceinline__ uint32_t key_group(Key k) { return static_cast<uint32_t>(k >> 32); }
__device__ __forceinline__ int64_t key_row(Key k) { return static_cast<int64_t>(k & 0xffffffffull); }

// keys[i] for i < R; the padding up to the power of two n sorts last. Also finds bad rewards.
__global__ void group_keys_kernel(Key* keys,                                    // [n]
                                  const float* rewards, const int32_t* group_ids,  // [R] each
                                  int64_t R, int64_t n, unsigned long long* bad_row) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride) {
    if (i >= R) {
      keys[i] = ~Key{0};
      continue;
    }
    const uint32_t ordered = static_cast<uint32_t>(group_ids[i]) ^ 0x80000000u;  // signed order as unsigned
    keys[i] = (static_cast<Key>(ordered) << 32) | static_cast<Key>(i);
    if (!isfinite(rewards[i])) atomicMin(bad_row, static_cast<unsigned long long>(i));
  }
}

__device__ __forceinline__ void compare_exchange(Key& a, Key& b, bool ascending) {
  if ((a > b) == ascending) {
    const Key t = a;
    a = b;
    b = t;
  }
}

// Index of the lower element of pair t in a compare-exchange step of distance j: t with a zero bit
// inserted at bit log2(j).
__device__ __forceinline__ int64_t pair_low(int64_t t, int64_t j) { return 2 * t - (t & (j - 1)); }

// Stages k = k_begin .. k_end (powers of two) of the bitonic network on each tile, for the
// distances j < tile (j from min(k, tile)/2 down to 1). Directions come from global indices.
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

// One compare-exchange step of distance j >= tile in stage k, on global memory.
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

__global__ void __launch_bounds__(kStatsThreads)
group_stats_kernel(float* advantages,                 // [R]
                   const Key* keys,                   // [n] sorted
                   const float* rewards,              // [R]
                   int64_t R, bool scale_by_std, bool unbiased, double eps) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t first = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) / kWarpSize * kWarpSize;
  const int64_t p = first + lane;
  const bool head = p < R && (p == 0 || key_group(keys[p]) != key_group(keys[p - 1]));
  for (unsigned heads = warp_ballot(head); heads != 0u; heads &= heads - 1u) {
    const int64_t start = first + (__ffs(static_cast<int>(heads)) - 1);
    const uint32_t group = key_group(keys[start]);
    int64_t end = start + 1;  // one past the group's last sorted position
    for (int64_t q0 = start + 1;; q0 += kWarpSize) {
      const int64_t q = q0 + lane;
      const unsigned stops = warp_ballot(q >= R || key_group(keys[q]) != group);
      if (stops != 0u) {
        end = q0 + (__ffs(static_cast<int>(stops)) - 1);
        break;
      }
    }
    const int64_t G = end - start;
    double mean = 0.0, sigma = 1.0;  // a singleton: verl's mean 0, std 1
    if (G > 1) {
      const float reference = rewards[key_row(keys[start])];
      double sum = 0.0;
      bool differs = false;
      for (int64_t k = lane; k < G; k += kWarpSize) {
        const float r = rewards[key_row(keys[start + k])];
        sum += r;
        differs |= r != reference;
      }
      if (!warp_any(differs)) {  // all equal: A = 0 exactly
        for (int64_t k = lane; k < G; k += kWarpSize) advantages[key_row(keys[start + k])] = 0.0f;
        continue;
      }
      mean = warp_reduce_sum(sum) * __drcp_rn(static_cast<double>(G));
      double squares = 0.0;
      for (int64_t k = lane; k < G; k += kWarpSize) {
        const double centered = rewards[key_row(keys[start + k])] - mean;
        squares += centered * centered;
      }
      sigma = __dsqrt_rn(warp_reduce_sum(squares) * __drcp_rn(static_cast<double>(unbiased ? G - 1 : G)));
    }
    const double inv = scale_by_std ? __drcp_rn(sigma + eps) : 1.0;
    for (int64_t k = lane; k < G; k += kWarpSize) {
      const int64_t row = key_row(keys[start + k]);
      advantages[row] = static_cast<float>((rewards[row] - mean) * inv);
    }
  }
}

}  // namespace

void group_advantage_cuda(const GroupAdvantageArgs& a) {
  if (a.R == 0) return;
  if (a.R >= (int64_t{1} << 31))
    throw ArgumentError("rows", "Expected fewer than 2^31 rows for groupAdvantages on cuda but received " + std::to_string(a.R));
  int64_t n = 2;
  while (n < a.R) n <<= 1;
  const auto keys_memory = allocate(static_cast<size_t>(n) * sizeof(Key));
  Key* keys = keys_memory->as<Key>();
  const ErrorIndex bad_row;
  const unsigned key_blocks = static_cast<unsigned>(ceil_div(n, 256) < 65535 ? ceil_div(n, 256) : 65535);
  STEPRL_LAUNCH(group_keys_kernel, key_blocks, 256, 0, stream(), keys, a.rewards, a.group_ids, a.R, n, bad_row.device());

  const int64_t tile_n = n < kTile ? n : kTile;
  const unsigned tiles = static_cast<unsigned>(n / tile_n);
  const int sort_threads = static_cast<int>(tile_n / 2 < kSortThreads ? tile_n / 2 : kSortThreads);
  STEPRL_LAUNCH(bitonic_tile_kernel, tiles, sort_threads, 0, stream(), keys, n, int64_t{2}, tile_n);
  for (int64_t k = 2 * kTile; k <= n; k <<= 1) {
    for (int64_t j = k / 2; j >= kTile; j >>= 1) {
      const unsigned blocks = static_cast<unsigned>(ceil_div(n / 2, 256) < 65535 ? ceil_div(n / 2, 256) : 65535);
      STEPRL_LAUNCH(bitonic_step_kernel, blocks, 256, 0, stream(), keys, n, k, j);
    }
    STEPRL_LAUNCH(bitonic_tile_kernel, tiles, sort_threads, 0, stream(), keys, n, k, k);
  }

  const unsigned stats_blocks = static_cast<unsigned>(ceil_div(a.R, kStatsThreads));
  STEPRL_LAUNCH(group_stats_kernel, stats_blocks, kStatsThreads, 0, stream(), a.advantages, keys, a.rewards, a.R,
                a.scale_by_std, a.unbiased, a.eps);
  const uint64_t row = bad_row.read();  // waits for the kernels
  if (row != ErrorIndex::kNone) {
    float value = 0.0f;
    copy_to_host(&value, a.rewards + row, sizeof value);
    throw ArgumentError("rewards", "Expected a finite number for every element of rewards but received " + js_number(value) +
                                       " of type number at index " + std::to_string(row));
  }
}

}  // namespace steprl::cuda
