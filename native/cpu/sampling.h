// sampling.h: next-token sampling from logits [B,V], deterministic for a fixed (seed, counter):
//   greedy (temperature 0): argmax, ties -> lowest index;
//   else p = softmax(logits / temperature), restricted to the topK largest (ties by lower index),
//   then to the nucleus: the shortest prefix of those, in decreasing probability, whose mass
//   (renormalized over the top-k set) reaches topP (at least one token); the token is drawn from
//   the renormalized remainder by inverse CDF in token-index order with u = uniform(seed, counter,
//   row): the first kept token where the running mass exceeds u times the kept total.
// u comes from a counter-based hash (SplitMix64 finalizer chained over seed, counter, row), so a
// row's draw depends on nothing else: not the thread count, not the other rows.
// Cost: one max pass and one exp pass over V per row when neither filter is on; top-k keeps a
// heap of k and scans for values above its minimum (vectorized); top-p alone histograms the row
// once: in every case only candidates are sorted.
#pragma once

#include <cstdint>

#include "../../include/steprl/sampling.h"

namespace steprl::cpu {

// Returns -1, or the first row whose logits have no finite maximum (NaN, +inf, or all -inf);
// such rows get token -1.
int64_t sample_cpu(const SampleArgs& args, int64_t B);

// The uniform draw in [0, 1) of one row: (hash >> 11) * 2^-53.
double sample_uniform(uint32_t seed, uint64_t counter, uint64_t row);

// Row primitives, one set per instruction set (sampling.cc, sampling_simd.inl).
struct SampleKernels {
  // max over z[0, n); NaN if any element is NaN.
  float (*row_max)(const float* z, int64_t n);
  // sum of 2^((z[i] - max) * scale), i < n (fp32 lanes, then a horizontal sum). Subtracting the
  // maximum first keeps its term exactly 1 for any scale (z * scale - max * scale would not).
  float (*exp2_sum)(const float* z, int64_t n, float max, float scale);
  // out[i] = 2^((z[i] - max) * scale), i < n: the same values exp2_sum adds.
  void (*exp2_values)(float* out, const float* z, int64_t n, float max, float scale);
  // First i in [begin, n) with z[i] >= threshold, or n.
  int64_t (*find_at_least)(const float* z, int64_t begin, int64_t n, float threshold);
};
SampleKernels sample_kernels_scalar();
SampleKernels sample_kernels_avx2();
SampleKernels sample_kernels_avx512();

constexpr int64_t kSampleBlock = 1024;  // elements per partial sum of the inverse-CDF walk

}  // namespace steprl::cpu
