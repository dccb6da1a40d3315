// group_advantage.cu: GRPO group-relative advantages over groups keyed by arbitrary int32 ids
// (rows of a group anywhere), A_i = (r_i - mu_g)/(sigma_g + eps) or r_i - mu_g, or RLOO's
// G/(G-1) (r_i - mu_g) (docs/ALGORITHMS-baselines.md §B1) (ALGORITHMS.md
// §1.5; the CPU statement is native/cpu/group_advantage.cc). Two steps:
//   1. group_sort.cuh's (id, row) keys, bitonic-sorted, so each group's rows are contiguous and
//      ascending; its key pass also notes the first non-finite reward;
//   2. one warp per group (group_sort::for_each_group): float64 sum and the all-equal test, mean,
//      float64 sum of squared deviations, sigma (divisor G - 1 or G), then A for every row.
//      Lane-strided sums plus a butterfly: the same bits on every run (no atomics in any value).
//      Divisions are reciprocals (__drcp_rn, __dsqrt_rn): a '/' of doubles brings ptxas's
//      slow-path subroutine and, here, a stack frame.
// Bytes and cost: O(R) traffic (ids, rewards, 8-byte keys) plus the sort's O(R log^2 R) shared
// memory compare-exchanges; for RL batch sizes (R = B*G <= ~64k) this is a few launches of
// microseconds each: latency-, not bandwidth-bound.
#include "group_advantage.h"

#include "advantage_rows.cuh"
#include "group_sort.cuh"

namespace steprl::cuda {
namespace {

using group_sort::Key;
using group_sort::key_row;

__global__ void __launch_bounds__(group_sort::kGroupThreads)
group_stats_kernel(float* advantages,                 // [R]
                   const Key* keys,                   // [R] sorted
                   const float* rewards,              // [R]
                   int64_t R, bool scale_by_std, bool unbiased, double eps, bool leave_one_out,
                   unsigned long long* singleton) {  // RLOO: the lowest row of a one-row group
  const int lane = threadIdx.x % kWarpSize;
  group_sort::for_each_group(keys, R, [&](int64_t start, int64_t end) {
    const int64_t G = end - start;
    double mean = 0.0, sigma = 1.0;  // a singleton: verl's mean 0, std 1
    if (G == 1 && leave_one_out && lane == 0) atomicMin(singleton, static_cast<unsigned long long>(key_row(keys[start])));
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
        return;
      }
      mean = warp_reduce_sum(sum) * __drcp_rn(static_cast<double>(G));
      double squares = 0.0;
      for (int64_t k = lane; k < G; k += kWarpSize) {
        const double centered = rewards[key_row(keys[start + k])] - mean;
        squares += centered * centered;
      }
      sigma = __dsqrt_rn(warp_reduce_sum(squares) * __drcp_rn(static_cast<double>(unbiased ? G - 1 : G)));
    }
    const double inv = leave_one_out ? static_cast<double>(G) * __drcp_rn(static_cast<double>(G - 1))
                       : scale_by_std ? __drcp_rn(sigma + eps) : 1.0;
    for (int64_t k = lane; k < G; k += kWarpSize) {
      const int64_t row = key_row(keys[start + k]);
      advantages[row] = static_cast<float>((rewards[row] - mean) * inv);
    }
  });
}

}  // namespace

void group_advantage_cuda(const GroupAdvantageArgs& a) {
  if (a.R == 0) return;
  const ErrorIndex bad_row, singleton;
  const auto keys = group_sort::sorted_keys(a.group_ids, a.R, "groupAdvantages", a.rewards, bad_row.device());
  STEPRL_LAUNCH(group_stats_kernel, group_sort::group_blocks(a.R), group_sort::kGroupThreads, 0, stream(), a.advantages,
                keys->as<Key>(), a.rewards, a.R, a.scale_by_std, a.unbiased, a.eps, a.leave_one_out, singleton.device());
  throw_if_not_finite(bad_row, a.rewards, "rewards", false);  // waits for the kernels
  const uint64_t row = singleton.read();
  if (row != ErrorIndex::kNone) {
    int32_t id = 0;
    copy_to_host(&id, a.group_ids + row, sizeof id);
    throw ArgumentError("groupIds", "Expected at least 2 rows in every group for RLOO but received group id " +
                                        std::to_string(id) + " with 1 row (row " + std::to_string(row) + ")");
  }
}

}  // namespace steprl::cuda
