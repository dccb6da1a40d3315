// entropy_segments.h: launcher of the entropySegments CUDA kernel (cuda/entropy_segments.cu),
// callable from host code that includes no CUDA header (native/ops/entropy_segments.cc).
// Semantics are those of native/cpu/entropy_segments.h (ALGORITHMS.md §5.2): the K highest-entropy
// valid tokens (ties: lower index) are anchors, sorted; the min-gap filter (or the reference's,
// compat) picks the cuts; a token's id is the number of cuts at or before it, −1 on padding.
#pragma once

#include <cstdint>

#include "../include/steprl/entropy_segments.h"

namespace steprl::cuda {

// Queues the kernel and waits for it; a bad mask value or a non-finite entropy of a valid token
// throws the TypeScript layer's ArgumentError (mask first).
void entropy_segments_cuda(const EntropySegmentsArgs& args);

}  // namespace steprl::cuda
