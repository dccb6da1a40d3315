// entropy_segments.cc: PRPO entropy-spike segmentation (see entropy_segments.h). Per row: the
// valid positions, a partial sort for the top K by (entropy desc, index asc), the anchors sorted
// by position, the cuts, then one pass assigning ids.
#include "entropy_segments.h"

#include <algorithm>
#include <vector>

#include "advantage_rows.h"
#include "parallel.h"

namespace steprl::cpu {
namespace {

// Cut positions from anchors sorted ascending, by the clean rule or the reference's; strictly increasing.
int64_t entropy_cuts(int64_t* cuts, const int64_t* anchors, int64_t K, int64_t min_gap, bool compat) {
  std::vector<int64_t> kept;
  if (compat) {
    for (int64_t i = 0; i + 1 < K; ++i) {
      if (anchors[i + 1] - anchors[i] > min_gap) {
        kept.push_back(anchors[i]);
        continue;
      }
      int64_t j = i + 1;
      while (j < K && anchors[j] - anchors[i] <= min_gap) ++j;
      if (j < K) kept.push_back(anchors[j]);
    }
  } else {
    kept.assign(anchors, anchors + K);
  }
  int64_t count = 0, last = 0;
  for (const int64_t a : kept)
    if (a - last >= min_gap) {
      cuts[count++] = a;
      last = a;
    }
  return count;
}

}  // namespace

void entropy_segments_cpu(const EntropySegmentsArgs& a, int64_t R) {
  const MaskView mask{a.mask, a.mask_u8};
  const int64_t T = a.T, K = a.max_branches;
  parallel_for(R, 8, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> valid, anchors(static_cast<size_t>(K)), cuts(static_cast<size_t>(K));
    for (int64_t i = begin; i < end; ++i) {
      const int64_t base = i * T;
      const float* H = a.entropy + base;
      valid.clear();
      for (int64_t t = 0; t < T; ++t)
        if (mask.on(base + t)) valid.push_back(t);
      int64_t count = 0;
      if (static_cast<int64_t>(valid.size()) >= K + 1) {
        std::partial_sort(valid.begin(), valid.begin() + K, valid.end(),
                          [&](int64_t x, int64_t y) { return H[x] > H[y] || (H[x] == H[y] && x < y); });
        std::copy(valid.begin(), valid.begin() + K, anchors.begin());
        std::sort(anchors.begin(), anchors.end());
        count = entropy_cuts(cuts.data(), anchors.data(), K, a.min_gap, a.compat);
      }
      int32_t* out = a.segments + base;
      int64_t id = 0;
      for (int64_t t = 0; t < T; ++t) {
        while (id < count && cuts[static_cast<size_t>(id)] <= t) ++id;
        out[t] = mask.on(base + t) ? static_cast<int32_t>(id) : -1;
      }
    }
  });
}

}  // namespace steprl::cpu
