// sampling.cc: the counter-based uniform, the scalar row primitives (the plain statement of
// sampling_simd.inl), and the per-row algorithm of sampling.h: greedy, inverse CDF over the
// full row, or over sorted candidates after top-k / top-p.
#include "sampling.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "parallel.h"
#include "simd.h"

namespace steprl::cpu {
namespace {

uint64_t mix64(uint64_t z) {  // SplitMix64's increment and finalizer
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

float row_max_scalar(const float* z, int64_t n) {
  float m = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(z[i])) return NAN;
    m = std::max(m, z[i]);
  }
  return m;
}

float exp2_sum_scalar(const float* z, int64_t n, float max, float scale) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += std::exp2((z[i] - max) * scale);
  return sum;
}

void exp2_values_scalar(float* out, const float* z, int64_t n, float max, float scale) {
  for (int64_t i = 0; i < n; ++i) out[i] = std::exp2((z[i] - max) * scale);
}

int64_t find_at_least_scalar(const float* z, int64_t begin, int64_t n, float threshold) {
  for (int64_t i = begin; i < n; ++i)
    if (z[i] >= threshold) return i;
  return n;
}

struct Candidate {
  float value;
  int32_t index;
};
// a ranks above b: larger value, or the same value at a lower index.
bool ranks_above(const Candidate& a, const Candidate& b) {
  return a.value > b.value || (a.value == b.value && a.index < b.index);
}

// The k top-ranked entries of z, best first. A heap holds the best k so far (its front is the
// worst of them); the scan only stops at values strictly above that worst one (equal values come
// later in index order and rank below it).
void top_candidates(const SampleKernels& kernels, const float* z, int64_t V, int64_t k, std::vector<Candidate>& out) {
  out.clear();
  for (int64_t i = 0; i < k; ++i) out.push_back({z[i], static_cast<int32_t>(i)});
  std::make_heap(out.begin(), out.end(), ranks_above);
  for (int64_t i = k;; ++i) {
    i = kernels.find_at_least(z, i, V, std::nextafter(out.front().value, INFINITY));
    if (i >= V) break;
    std::pop_heap(out.begin(), out.end(), ranks_above);
    out.back() = {z[i], static_cast<int32_t>(i)};
    std::push_heap(out.begin(), out.end(), ranks_above);
  }
  std::sort(out.begin(), out.end(), ranks_above);
}

// Inverse CDF over the whole row: block sums first, then the elements of the block that holds u.
int32_t sample_full(const SampleKernels& kernels, const float* z, int64_t V, float max, float scale, double u) {
  const int64_t blocks = task_count(V, kSampleBlock);
  std::vector<double> sums(static_cast<size_t>(blocks));
  double total = 0.0;
  for (int64_t b = 0; b < blocks; ++b) {
    sums[b] = kernels.exp2_sum(z + b * kSampleBlock, std::min(kSampleBlock, V - b * kSampleBlock), max, scale);
    total += sums[b];
  }
  const double target = u * total;
  float values[kSampleBlock];
  double cumulative = 0.0;
  int64_t last_block = 0;  // the last block with mass: where rounding leftovers land
  for (int64_t b = 0; b < blocks; ++b) {
    if (sums[b] > 0.0) last_block = b;
    if (cumulative + sums[b] <= target) {
      cumulative += sums[b];
      continue;
    }
    const int64_t n = std::min(kSampleBlock, V - b * kSampleBlock);
    kernels.exp2_values(values, z + b * kSampleBlock, n, max, scale);
    for (int64_t j = 0; j < n; ++j) {
      cumulative += values[j];
      if (cumulative > target) return static_cast<int32_t>(b * kSampleBlock + j);
    }
    last_block = b;
    break;
  }
  const int64_t n = std::min(kSampleBlock, V - last_block * kSampleBlock);
  kernels.exp2_values(values, z + last_block * kSampleBlock, n, max, scale);
  for (int64_t j = n - 1; j > 0; --j)
    if (values[j] > 0.0f) return static_cast<int32_t>(last_block * kSampleBlock + j);
  return static_cast<int32_t>(last_block * kSampleBlock);
}

// Inverse CDF over kept tokens in index order (the unfiltered walk's order): draws the token
// where the running mass first exceeds u * (their total).
int32_t walk(const std::vector<std::pair<int32_t, double>>& kept, double u) {
  double total = 0.0;
  for (const auto& k : kept) total += k.second;
  const double target = u * total;
  double cumulative = 0.0;
  for (const auto& k : kept) {
    cumulative += k.second;
    if (cumulative > target) return k.first;
  }
  return kept.back().first;
}

// Top-k (then top-p within it): the heap's k candidates, cut to the nucleus, redrawn in index order.
int32_t sample_top_k(const SampleKernels& kernels, const SampleArgs& a, const float* z, float m, double scale_d,
                     double u) {
  std::vector<Candidate> candidates;
  top_candidates(kernels, z, a.V, a.top_k, candidates);
  std::vector<std::pair<int32_t, double>> kept;
  double mass = 0.0;
  for (const Candidate& c : candidates) {
    kept.push_back({c.index, std::exp2((static_cast<double>(c.value) - m) * scale_d)});
    mass += kept.back().second;
  }
  if (a.top_p < 1.0) {
    size_t keep = 1;
    for (double cumulative = kept[0].second; keep < kept.size() && cumulative < a.top_p * mass;) cumulative += kept[keep++].second;
    kept.resize(keep);
  }
  std::sort(kept.begin(), kept.end());
  return walk(kept, u);
}

// Top-p alone: a histogram of the row by t = (max - z) * log2(e) / temperature (buckets of 1/16 in
// log2 of the relative probability; the last one holds everything below 2^-64) finds the bucket
// where the nucleus mass is reached. Tokens of the buckets above it are all kept; only that
// boundary bucket is sorted to place the exact cut; then the kept tokens are walked in index order.
constexpr int kBucketsPerUnit = 16, kBuckets = 64 * kBucketsPerUnit;

int32_t sample_top_p(const SampleKernels& kernels, const SampleArgs& a, const float* z, float m, float scale, double u) {
  const int64_t V = a.V;
  std::vector<float> e(static_cast<size_t>(V));
  kernels.exp2_values(e.data(), z, V, m, scale);
  std::vector<uint16_t> bucket(static_cast<size_t>(V));
  std::vector<double> mass(kBuckets + 1, 0.0);
  for (int64_t i = 0; i < V; ++i) {
    const float t = (m - z[i]) * scale * kBucketsPerUnit;  // >= 0; +inf for -inf logits
    bucket[i] = static_cast<uint16_t>(t < static_cast<float>(kBuckets) ? static_cast<int>(t) : kBuckets);
    mass[bucket[i]] += e[i];
  }
  double total = 0.0;
  for (double b : mass) total += b;
  const double wanted = a.top_p * total;
  int last = 0;
  double kept_mass = 0.0;  // the buckets above `last`, then the kept part of `last`
  while (last < kBuckets && kept_mass + mass[last] < wanted) kept_mass += mass[last++];
  std::vector<Candidate> boundary;
  for (int64_t i = 0; i < V; ++i)
    if (bucket[i] == last) boundary.push_back({z[i], static_cast<int32_t>(i)});
  if (boundary.empty()) return sample_full(kernels, z, V, m, scale, u);  // rounding at topP ~ 1
  std::sort(boundary.begin(), boundary.end(), ranks_above);
  size_t keep = 0;
  while (keep < boundary.size() && (keep == 0 || kept_mass < wanted)) kept_mass += e[boundary[keep++].index];
  const Candidate threshold = boundary[keep - 1];  // the lowest-ranked kept boundary token
  const double target = u * kept_mass;
  double cumulative = 0.0;
  int32_t last_kept = threshold.index;
  for (int64_t i = 0; i < V; ++i) {
    if (bucket[i] > last || (bucket[i] == last && ranks_above(threshold, {z[i], static_cast<int32_t>(i)}))) continue;
    last_kept = static_cast<int32_t>(i);
    cumulative += e[i];
    if (cumulative > target) return last_kept;
  }
  return last_kept;
}

int32_t sample_row(const SampleKernels& kernels, const SampleArgs& a, int64_t row) {
  const float* z = a.logits + row * a.V;
  const float m = kernels.row_max(z, a.V);
  if (!std::isfinite(m)) return -1;
  const double scale_d = 1.4426950408889634 / a.temperature;  // log2(e) / temperature
  if (a.temperature == 0.0 || !std::isfinite(scale_d) || !std::isfinite(static_cast<float>(scale_d)))
    return static_cast<int32_t>(kernels.find_at_least(z, 0, a.V, m));  // greedy: first maximum
  const float scale = static_cast<float>(scale_d);
  const double u = sample_uniform(a.seed, a.counter, static_cast<uint64_t>(row));
  if (a.top_k > 0 && a.top_k < a.V) return sample_top_k(kernels, a, z, m, scale_d, u);
  if (a.top_p < 1.0) return sample_top_p(kernels, a, z, m, scale, u);
  return sample_full(kernels, z, a.V, m, scale, u);
}

}  // namespace

double sample_uniform(uint32_t seed, uint64_t counter, uint64_t row) {
  const uint64_t h = mix64(mix64(mix64(seed) ^ counter) ^ row);
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

SampleKernels sample_kernels_scalar() {
  return {row_max_scalar, exp2_sum_scalar, exp2_values_scalar, find_at_least_scalar};
}

int64_t sample_cpu(const SampleArgs& args, int64_t B) {
  const SampleKernels kernels = STEPRL_SIMD_KERNEL(sample_kernels)();
  parallel_for(B, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) args.tokens[r] = sample_row(kernels, args, r);
  });
  for (int64_t r = 0; r < B; ++r)
    if (args.tokens[r] < 0) return r;
  return -1;
}

}  // namespace steprl::cpu
