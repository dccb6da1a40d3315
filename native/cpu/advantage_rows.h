// advantage_rows.h: what the advantage families share on the CPU (prl_advantage, prpo_advantage,
// process_grpo_advantage, gae, entropy_segments; ALGORITHMS.md §0, §6.3):
//   - the 0/1 response mask m[R,T], stored as float32 or uint8 (values checked by the callers);
//   - a row's length L_i: one past its last token with m = 1 (= Σ_t m[i,t] for right padding,
//     the layout the spec assumes; masks with holes keep their holes at 0 in every output);
//   - groups keyed by int32 id: a stable sort of the row indices by id, so every group is a run of
//     its rows in ascending row order and any statistic summed along a run has fixed bits.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

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

}  // namespace steprl::cpu
