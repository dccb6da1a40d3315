// advantage_rows.h: what the advantage families share on the CPU (prl_advantage, prpo_advantage,
// process_grpo_advantage, gae, entropy_segments; ALGORITHMS.md §0, §6.3):
//   - the 0/1 response mask m[R,T], stored as float32 or uint8 (values checked by the callers);
//   - a row's length L_i: one past its last token with m = 1 (= Σ_t m[i,t] for right padding,
//     the layout the spec assumes; masks with holes keep their holes at 0 in every output);
//   - groups keyed by int32 id: a stable sort of the row indices by id, so every group is a run of
//     its rows in ascending row order and any statistic summed along a run has fixed bits;
//   - batch moments of masked values (GAE's whitening, REINFORCE++'s normalization): row partials
//     summed in row order, so the bits do not depend on the thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "parallel.h"

namespace steprl::cpu {

struct MaskView {
  const void* data;  // [R,T] float32, or uint8 when u8
  bool u8;
  bool on(int64_t i) const {
    return u8 ? static_cast<const uint8_t*>(data)[i] != 0 : static_cast<const float*>(data)[i] != 0.0f;
  }
  // L_i of the row starting at element `base`.
  int64_t row_length(int64_t base, int64_t T) const {
    for (int64_t t = T; t > 0; --t)
      if (on(base + t - 1)) return t;
    return 0;
  }
};

struct GroupRuns {
  std::vector<int64_t> order;   // row indices, stably sorted by group id
  std::vector<int64_t> starts;  // run boundaries in `order`, plus R at the end
  int64_t count() const { return static_cast<int64_t>(starts.size()) - 1; }
  const int64_t* rows(int64_t g) const { return order.data() + starts[static_cast<size_t>(g)]; }
  int64_t size(int64_t g) const { return starts[static_cast<size_t>(g) + 1] - starts[static_cast<size_t>(g)]; }
};

inline GroupRuns group_runs(const int32_t* group_ids, int64_t R) {  // group_ids [R]
  GroupRuns runs;
  runs.order.resize(static_cast<size_t>(R));
  for (int64_t i = 0; i < R; ++i) runs.order[static_cast<size_t>(i)] = i;
  std::stable_sort(runs.order.begin(), runs.order.end(),
                   [&](int64_t x, int64_t y) { return group_ids[x] < group_ids[y]; });
  for (int64_t k = 0; k < R; ++k)
    if (k == 0 || group_ids[runs.order[static_cast<size_t>(k)]] != group_ids[runs.order[static_cast<size_t>(k - 1)]])
      runs.starts.push_back(k);
  runs.starts.push_back(R);
  return runs;
}

// Count, mean and sum of squared deviations of the masked elements of values [R, T], from each
// row's count and sum (row_count, row_sum: one partial per row). row_sum is reused as scratch.
// n == 0: no element is on (mean and squares 0).
struct MaskedMoments {
  double n, mean, squares;
};

inline MaskedMoments masked_moments(const float* values, const MaskView& mask, int64_t R, int64_t T,
                                    const std::vector<double>& row_count, std::vector<double>& row_sum) {
  double n = 0.0, total = 0.0;
  for (int64_t i = 0; i < R; ++i) {
    n += row_count[static_cast<size_t>(i)];
    total += row_sum[static_cast<size_t>(i)];
  }
  if (n == 0.0) return {0.0, 0.0, 0.0};
  const double mean = total / n;
  std::vector<double>& row_squares = row_sum;  // reused: one partial per row again
  parallel_for(R, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      double squares = 0.0;
      for (int64_t t = 0; t < T; ++t)
        if (mask.on(i * T + t)) {
          const double centred = values[i * T + t] - mean;
          squares += centred * centred;
        }
      row_squares[static_cast<size_t>(i)] = squares;
    }
  });
  double squares = 0.0;
  for (int64_t i = 0; i < R; ++i) squares += row_squares[static_cast<size_t>(i)];
  return {n, mean, squares};
}

// out[k] = (values[k] - mean) * inv_std where the mask is on, else 0, over `count` elements
// (out may be values).
inline void masked_scale(float* out, const float* values, const MaskView& mask, int64_t count, double mean, double inv_std) {
  parallel_for(count, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) out[k] = mask.on(k) ? static_cast<float>((values[k] - mean) * inv_std) : 0.0f;
  });
}

}  // namespace steprl::cpu
