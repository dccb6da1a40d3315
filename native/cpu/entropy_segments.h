// entropy_segments.h: PRPO's segmentation of each response at entropy spikes (ALGORITHMS.md §5.2).
// For a row with n valid tokens (m = 1) and K = maxBranches:
//   n < K + 1: one segment (id 0 on every valid token);
//   otherwise anchors = the K valid positions of largest entropy (ties: lower index first), sorted;
//   cuts: last = 0; for a in anchors: if a − last ≥ minGap { cut at a; last = a };
//   segment id of token t = the number of cuts ≤ t (the high-entropy token starts a segment).
// compat replicates the reference's anchor filter (srpocode naive2.py `entropy_segmentation`):
//   for i in 0..K−2: if a[i+1] − a[i] > minGap keep a[i], else keep the first a[j], j > i, with
//   a[j] − a[i] > minGap (if any); the kept list (unsorted, possibly with duplicates) then goes
//   through the cut loop above. So a[K−1] is only ever kept through a skip.
// Padding (m = 0) gets −1. O(n log K) per row, threads over rows.
#pragma once

#include <cstdint>

#include "../../include/steprl/entropy_segments.h"

namespace steprl::cpu {

void entropy_segments_cpu(const EntropySegmentsArgs& args, int64_t R);

}  // namespace steprl::cpu
