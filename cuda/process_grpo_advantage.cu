// process_grpo_advantage.cu: process-supervised GRPO (ALGORITHMS.md §1.6; the CPU statement is
// native/cpu/process_grpo_advantage.cc). Five steps, no float atomics:
//   lengths  one block per row: L_i (a block max), checking the mask;
//   keys     rows sorted by (group id, row) (group_sort.cuh);
//   stats    one warp per group: count, float64 sum and centred sum of squares of the pooled step
//            rewards (lane-strided over the group's rows, each lane walking its rows' steps, then a
//            butterfly), so r̃_j = (r_j − mean)·scale with scale = 1/(std + eps), or 0 for one step or
//            std = 0; per-row mean and scale;
//   steps    one warp per row: checks its step ends (in [0, L_i), non-decreasing), r̃_j, and the
//            suffix sums P_j = Σ_{j' ≥ j} r̃_j' of the row's steps (warp reverse scans over chunks of
//            32 steps from the right, float64);
//   tokens   one block per row: A[t] = P_j for the first step j of the row with e_j ≥ t (a binary
//            search, the ends being sorted), 0 past the last step and where m = 0.
// Every read through the offsets is guarded (cuda/step_offsets.cuh), so malformed offsets are
// reported, never followed. Bytes: the mask once (+ once from L2), 4 B out per token, O(S) for the
// steps; the token pass is a coalesced stream with log2(K) cached reads per token.
#include "process_grpo_advantage.h"

#include <string>
#include <vector>

#include "advantage_rows.cuh"
#include "group_sort.cuh"
#include "step_offsets.cuh"

namespace steprl::cuda {
namespace {

using group_sort::Key;
using group_sort::key_row;

template <bool kU8>
__global__ void __launch_bounds__(kRowThreads)
row_lengths_kernel(int64_t* lengths, const void* mask, int64_t R, int64_t T, unsigned long long* bad_mask) {  // [R], [R,T]
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    const int64_t L = row_length<kU8, true>(mask, row * T, T, bad_mask);
    if (threadIdx.x == 0) lengths[row] = L;
  }
}

__global__ void __launch_bounds__(group_sort::kGroupThreads)
group_stats_kernel(double* row_mean, double* row_scale,                 // [R] each
                   const Key* keys, const float* rewards,               // [R] sorted, [S]
                   const int32_t* offsets, int64_t R, int64_t S, double eps, unsigned long long* bad_reward) {
  const int lane = threadIdx.x % kWarpSize;
  group_sort::for_each_group(keys, R, [&](int64_t start, int64_t end) {
    double count = 0.0, sum = 0.0;
    for (int64_t k = start + lane; k < end; k += kWarpSize) {
      const int64_t row = key_row(keys[k]), begin = offsets[row], stop = offsets[row + 1];
      if (!offsets_ok(begin, stop, S)) continue;
      for (int64_t j = begin; j < stop; ++j) {
        if (!isfinite(rewards[j])) atomicMin(bad_reward, static_cast<unsigned long long>(j));
        count += 1.0;
        sum += rewards[j];
      }
    }
    count = warp_reduce_sum(count);
    const double mean = count > 0.0 ? warp_reduce_sum(sum) * __drcp_rn(count) : 0.0;
    double squares = 0.0;
    for (int64_t k = start + lane; k < end; k += kWarpSize) {
      const int64_t row = key_row(keys[k]), begin = offsets[row], stop = offsets[row + 1];
      if (!offsets_ok(begin, stop, S)) continue;
      for (int64_t j = begin; j < stop; ++j) squares += (rewards[j] - mean) * (rewards[j] - mean);
    }
    squares = warp_reduce_sum(squares);
    const double sigma = count > 1.0 ? __dsqrt_rn(squares * __drcp_rn(count - 1.0)) : 0.0;
    const double scale = sigma > 0.0 ? __drcp_rn(sigma + eps) : 0.0;
    for (int64_t k = start + lane; k < end; k += kWarpSize) {
      row_mean[key_row(keys[k])] = mean;
      row_scale[key_row(keys[k])] = scale;
    }
  });
}

__global__ void __launch_bounds__(kRowThreads)
step_suffix_kernel(double* suffix,                                     // [S]  P_j
                   const float* rewards, const int32_t* ends,          // [S] each
                   const int32_t* offsets, const int64_t* lengths,     // [R+1], [R]
                   const double* row_mean, const double* row_scale,    // [R] each
                   int64_t R, int64_t S, unsigned long long* bad_offset, unsigned long long* bad_end) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps = int64_t{gridDim.x} * (blockDim.x / kWarpSize);
  for (int64_t row = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) / kWarpSize; row < R; row += warps) {
    int64_t begin, stop;
    if (!row_steps(offsets, row, S, lane == 0, bad_offset, begin, stop)) continue;
    const int64_t L = lengths[row];
    const double mean = row_mean[row], scale = row_scale[row];
    double carry = 0.0;  // Σ r̃ of the steps right of the chunk
    for (int64_t chunk = stop - kWarpSize; chunk > begin - kWarpSize; chunk -= kWarpSize) {
      const int64_t j = chunk + lane;
      const bool mine = j >= begin;
      double value = 0.0;
      if (mine) {
        const int64_t e = ends[j];
        if (e < 0 || e >= L || (j > begin && e < ends[j - 1])) atomicMin(bad_end, static_cast<unsigned long long>(j));
        value = (rewards[j] - mean) * scale;
      }
      for (int offset = 1; offset < kWarpSize; offset <<= 1) {  // inclusive reverse scan over the warp
        const double later = __shfl_down_sync(kFullMask, value, offset);
        if (lane + offset < kWarpSize) value += later;
      }
      if (mine) suffix[j] = value + carry;
      carry += __shfl_sync(kFullMask, value, 0);
    }
  }
}

template <bool kU8>
__global__ void __launch_bounds__(kRowThreads)
token_advantage_kernel(float* advantages,                                  // [R,T]
                       const double* suffix, const int32_t* ends,          // [S] each
                       const int32_t* offsets, const void* mask,           // [R+1], [R,T]
                       int64_t R, int64_t T, int64_t S) {
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    const int64_t base = row * T, begin = offsets[row], stop = offsets[row + 1];
    const bool ok = offsets_ok(begin, stop, S);
    for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
      float out = 0.0f;
      if (ok && mask_on<kU8>(mask, base + t)) {
        int64_t lo = begin, hi = stop;  // first j in [begin, stop) with ends[j] >= t
        while (lo < hi) {
          const int64_t mid = lo + (hi - lo) / 2;
          if (ends[mid] < t) lo = mid + 1;
          else hi = mid;
        }
        if (lo < stop) out = static_cast<float>(suffix[lo]);
      }
      advantages[base + t] = out;
    }
  }
}

// Throws the first bad step end as the TypeScript layer words it (range, then order).
void throw_if_bad_end(const ErrorIndex& bad_end, const ProcessGrpoAdvantageArgs& a, const int64_t* lengths) {
  const uint64_t j = bad_end.read();
  if (j == ErrorIndex::kNone) return;
  int32_t pair[2] = {0, 0};  // ends[j − 1], ends[j]
  copy_to_host(j > 0 ? pair : pair + 1, a.step_ends + (j > 0 ? j - 1 : j), j > 0 ? sizeof pair : sizeof(int32_t));
  std::vector<int32_t> offsets(static_cast<size_t>(a.R + 1));
  copy_to_host(offsets.data(), a.step_offsets, offsets.size() * sizeof(int32_t));
  int64_t row = 0;  // the row owning step j: offsets[row] <= j < offsets[row + 1]
  while (row + 1 < a.R && offsets[static_cast<size_t>(row + 1)] <= static_cast<int64_t>(j)) ++row;
  int64_t L = 0;
  copy_to_host(&L, lengths + row, sizeof L);
  const int64_t e = pair[1];
  if (e < 0 || e >= L)
    throw ArgumentError("stepEnds", "Expected a token index in [0, " + std::to_string(L) + ") (the length of row " +
                                        std::to_string(row) + ") for stepEnds[" + std::to_string(j) + "] but received " +
                                        std::to_string(e));
  throw ArgumentError("stepEnds", "Expected non-decreasing stepEnds within row " + std::to_string(row) + " but received " +
                                      std::to_string(e) + " after " + std::to_string(pair[0]) + " at index " + std::to_string(j));
}

}  // namespace

void process_grpo_advantage_cuda(const ProcessGrpoAdvantageArgs& a) {
  const ErrorIndex bad_mask, bad_offset, bad_end, bad_reward;
  std::shared_ptr<DeviceAllocation> lengths, keys, row_mean, row_scale, suffix;
  if (a.R > 0) {
    lengths = allocate(static_cast<size_t>(a.R) * sizeof(int64_t));
    row_mean = allocate(static_cast<size_t>(a.R) * sizeof(double));
    row_scale = allocate(static_cast<size_t>(a.R) * sizeof(double));
    suffix = allocate(static_cast<size_t>(a.S > 0 ? a.S : 1) * sizeof(double));
    if (a.mask_u8) {
      STEPRL_LAUNCH(row_lengths_kernel<true>, row_blocks(a.R), row_threads(a.T), 0, stream(), lengths->as<int64_t>(), a.mask,
                    a.R, a.T, bad_mask.device());
    } else {
      STEPRL_LAUNCH(row_lengths_kernel<false>, row_blocks(a.R), row_threads(a.T), 0, stream(), lengths->as<int64_t>(), a.mask,
                    a.R, a.T, bad_mask.device());
    }
    keys = group_sort::sorted_keys(a.group_ids, a.R);
    STEPRL_LAUNCH(group_stats_kernel, group_sort::group_blocks(a.R), group_sort::kGroupThreads, 0, stream(),
                  row_mean->as<double>(), row_scale->as<double>(), keys->as<Key>(), a.step_rewards, a.step_offsets, a.R, a.S,
                  a.eps, bad_reward.device());
    const unsigned step_blocks = static_cast<unsigned>(ceil_div(a.R, kRowThreads / kWarpSize));
    STEPRL_LAUNCH(step_suffix_kernel, step_blocks, kRowThreads, 0, stream(), suffix->as<double>(), a.step_rewards, a.step_ends,
                  a.step_offsets, lengths->as<int64_t>(), row_mean->as<double>(), row_scale->as<double>(), a.R, a.S,
                  bad_offset.device(), bad_end.device());
    if (a.T > 0) {
      if (a.mask_u8) {
        STEPRL_LAUNCH(token_advantage_kernel<true>, row_blocks(a.R), row_threads(a.T), 0, stream(), a.advantages,
                      suffix->as<double>(), a.step_ends, a.step_offsets, a.mask, a.R, a.T, a.S);
      } else {
        STEPRL_LAUNCH(token_advantage_kernel<false>, row_blocks(a.R), row_threads(a.T), 0, stream(), a.advantages,
                      suffix->as<double>(), a.step_ends, a.step_offsets, a.mask, a.R, a.T, a.S);
      }
    }
  }
  // Reports in the TypeScript layer's order: offsets, mask, step ends, step rewards.
  throw_if_bad_offsets(bad_offset, a.step_offsets, a.R, a.S, "steps");
  throw_if_bad_mask(bad_mask, a.mask, a.mask_u8);
  if (a.R > 0) throw_if_bad_end(bad_end, a, lengths->as<int64_t>());
  throw_if_not_finite(bad_reward, a.step_rewards, "stepRewards", false);
}

}  // namespace steprl::cuda
