// group_advantage.cc: GRPO group advantages (see group_advantage.h). Rows are stably sorted by
// group id, so each group is a run of row indices in ascending order; each run's statistics are
// float64 two-pass sums in that (row) order, independent of threads.
#include "group_advantage.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <vector>

#include "parallel.h"

namespace steprl::cpu {
namespace {

void group_rows(const GroupAdvantageArgs& a, const int64_t* rows, int64_t G) {
  double mean = 0.0, sigma = 1.0;  // singleton: verl's mean 0, std 1
  if (G > 1) {
    double sum = 0.0, lo = a.rewards[rows[0]], hi = lo;
    for (int64_t k = 0; k < G; ++k) {
      const double r = a.rewards[rows[k]];
      sum += r;
      lo = std::min(lo, r);
      hi = std::max(hi, r);
    }
    if (lo == hi) {  // all equal: A = 0 exactly (the mean of equal floats need not be exact)
      for (int64_t k = 0; k < G; ++k) a.advantages[rows[k]] = 0.0f;
      return;
    }
    mean = sum / static_cast<double>(G);
    double squares = 0.0;
    for (int64_t k = 0; k < G; ++k) {
      const double centered = a.rewards[rows[k]] - mean;
      squares += centered * centered;
    }
    sigma = std::sqrt(squares / static_cast<double>(a.unbiased ? G - 1 : G));
  }
  const double inv = a.leave_one_out ? static_cast<double>(G) / static_cast<double>(G - 1)
                     : a.scale_by_std ? 1.0 / (sigma + a.eps) : 1.0;
  for (int64_t k = 0; k < G; ++k) a.advantages[rows[k]] = static_cast<float>((a.rewards[rows[k]] - mean) * inv);
}

}  // namespace

void group_advantage_cpu(const GroupAdvantageArgs& a, int64_t R) {
  std::vector<int64_t> order(static_cast<size_t>(R));
  for (int64_t i = 0; i < R; ++i) order[static_cast<size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return a.group_ids[x] < a.group_ids[y]; });
  std::vector<int64_t> starts;  // run boundaries in `order`, plus R
  for (int64_t k = 0; k < R; ++k)
    if (k == 0 || a.group_ids[order[static_cast<size_t>(k)]] != a.group_ids[order[static_cast<size_t>(k - 1)]]) starts.push_back(k);
  starts.push_back(R);
  const int64_t groups = static_cast<int64_t>(starts.size()) - 1;
  parallel_for(groups, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g)
      group_rows(a, order.data() + starts[static_cast<size_t>(g)], starts[static_cast<size_t>(g + 1)] - starts[static_cast<size_t>(g)]);
  });
}

int64_t first_singleton_row(const int32_t* group_ids, int64_t R) {
  std::unordered_map<int32_t, int64_t> sizes;
  for (int64_t i = 0; i < R; ++i) ++sizes[group_ids[i]];
  for (int64_t i = 0; i < R; ++i)
    if (sizes[group_ids[i]] == 1) return i;
  return -1;
}

}  // namespace steprl::cpu
