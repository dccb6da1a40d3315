// entropy_segments.h: launcher of the entropySegments CUDA kernel (cuda/entropy_segments.cu),
// callable from host code that includes no CUDA header (native/ops/entropy_segments.cc).
// Semantics are those of native/cpu/entropy_segments.h (ALGORITHMS.md §5.2): the K highest-entropy
// valid tokens (ties: lower index) are anchors, sorted; the min-gap filter (or the reference's,
// compat) picks the cuts; a token's id is the number of cuts at or before it, −1 on padding.
#pragma once

#include <cstdint>

namespace steprl::cuda {

struct EntropySegmentsArgs {
  int32_t* segments;     // [R,T]
  const float* entropy;  // [R,T] finite where m = 1 (checked)
  const void* mask;      // [R,T] float32, or uint8 when mask_u8; 0/1 (checked)
  bool mask_u8;
  int64_t R, T;
  int64_t max_branches;  // [1, cpu::kMaxBranches]
  int64_t min_gap;       // >= 1
  bool compat;
};

// Queues the kernel and waits for it; a bad mask value or a non-finite entropy of a valid token
// throws the TypeScript layer's ArgumentError (mask first).
void entropy_segments_cuda(const EntropySegmentsArgs& args);

}  // namespace steprl::cuda
