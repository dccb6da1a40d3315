// steprl/entropy_segments.h: what the CPU (native/cpu/entropy_segments.h) and CUDA
// (cuda/entropy_segments.h) launchers of entropySegments share (ALGORITHMS.md §5.2).
#pragma once

#include <cstdint>

namespace steprl {

struct EntropySegmentsArgs {
  int32_t* segments;     // [R,T]  segment id per token, −1 where m = 0
  const float* entropy;  // [R,T]  H, finite where m = 1 (checked on cuda)
  const void* mask;      // [R,T]  float32, or uint8 when mask_u8; values 0/1 (checked on cuda)
  bool mask_u8;
  int64_t T;
  int64_t max_branches;  // K in [1, kMaxBranches]
  int64_t min_gap;       // >= 1
  bool compat;
  int64_t R;
};

constexpr int64_t kMaxBranches = 256;  // K's upper bound (the CUDA kernel keeps K anchors in shared memory)

}  // namespace steprl
