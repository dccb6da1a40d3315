// sampling.h: launcher of next-token sampling on CUDA (cuda/sampling.cu), callable from host code
// that includes no CUDA header (native/ops/sampling.cc). Semantics of native/cpu/sampling.h:
// greedy (ties -> lowest index) when `greedy`, else softmax(logits / temperature) restricted to
// the top-k (ties by lower index), then to the nucleus (shortest best-first prefix whose mass
// reaches topP, at least one token), drawn by inverse CDF in index order with the CPU's
// counter-based uniform u = hash(seed, counter, row).
#pragma once

#include <cstdint>

namespace steprl::cuda {

struct SampleArgs {
  int32_t* tokens;       // [B] (device)
  const float* logits;   // [B,V]
  int64_t B, V;
  bool greedy;           // temperature 0 (or a scale that overflows)
  double scale;          // log2(e) / temperature
  int64_t top_k;         // 0 or >= V: off
  double top_p;          // >= 1: off
  uint32_t seed;
  uint64_t counter;
};

// Queues the kernel and waits for it; returns -1, or the first row without a finite maximum
// (NaN, +inf, or all -inf), whose token is -1.
int64_t sample_cuda(const SampleArgs& args);

}  // namespace steprl::cuda
