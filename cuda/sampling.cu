// sampling.cu: next-token sampling, one block per row of logits (cuda/sampling.h; the CPU
// statement is native/cpu/sampling.cc, whose results these match token for token up to rounding
// ties: the same counter-based SplitMix64 uniform, the same weights 2^((z - max) * log2(e)/tau)
// (float for the plain and top-p draws, double for top-k, as the CPU forms them)).
//   1. row max (NaN / +inf / all -inf rows give token -1 and are reported), greedy = the first
//      index holding the max;
//   2. top-k: the k-th largest logit found by a 32-step bisection over order-preserving 32-bit
//      keys of the floats (each step counts the keys >= a candidate in one pass: integer block
//      sums, exact), then the index of the last kept tie by a segmented scan;
//   3. top-p: the same bisection on mass (double block sums of the weights in the top-k set): the
//      largest key whose >= set holds topP of the mass; ties at the boundary kept in index order
//      until the mass is reached (at least one token);
//   4. the draw: each thread owns a contiguous segment of the row, sums its kept weights in index
//      order (double), thread 0 scans the segment sums in thread order, target = u * total, and
//      the thread whose running sum first passes it walks its segment to the token.
// Every sum is over a fixed partition in a fixed order: the same token on every run and GPU.
// Cost: the row is read ~3 times (no filter) or ~36 times (top-k or top-p: ~70 with both), from
// L2/L1 after the first pass (a 151936-token row is 600 KB). For B = 64 rows of 150K that is
// ~40 MB of L2 reads per filtered step, ~10 us on an H100: small next to the forward pass that
// produced the logits. A radix select with shared-memory histograms would cut the passes to ~4
// but needs atomics on float masses (nondeterministic order), hence the bisection.
// Not built with -fmad=false: nvcc contracts nothing here (the PTX has the same 96 fma.rn either
// way, all inside the exp2/exp2f library code). A GPU picks the CPU's tokens except where its
// exp2f (2 ulp) and glibc's differ at a draw boundary; test/ops/sampling states that tolerance.
#include "sampling.h"

#include "common.cuh"
#include "device.h"

namespace steprl::cuda {
namespace {

constexpr int kMaxThreads = 256;

__device__ __forceinline__ uint64_t mix64(uint64_t z) {  // SplitMix64's increment and finalizer
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

__device__ __forceinline__ double sample_uniform(uint32_t seed, uint64_t counter, uint64_t row) {
  const uint64_t h = mix64(mix64(mix64(seed) ^ counter) ^ row);
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

// Order-preserving keys: a < b as floats (with -0 == +0) iff key(a) < key(b); -inf is the smallest.
__device__ __forceinline__ uint32_t rank_key(float z) {
  const uint32_t u = __float_as_uint(z == 0.0f ? 0.0f : z);
  return (u & 0x80000000u) != 0u ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float key_value(uint32_t key) {
  return __uint_as_float((key & 0x80000000u) != 0u ? (key & 0x7fffffffu) : ~key);
}

__device__ __forceinline__ long long warp_sum_ll(long long v) {
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}
__device__ __forceinline__ long long warp_min_ll(long long v) {
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) {
    const long long o = __shfl_xor_sync(kFullMask, v, offset);
    v = o < v ? o : v;
  }
  return v;
}
__device__ __forceinline__ long long warp_max_ll(long long v) {
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) {
    const long long o = __shfl_xor_sync(kFullMask, v, offset);
    v = o > v ? o : v;
  }
  return v;
}
__device__ long long block_sum_ll(long long v) {
  __shared__ long long scratch[kWarpSize];
  return block_reduce(v, 0LL, scratch, [](long long x) { return warp_sum_ll(x); });
}
__device__ long long block_min_ll(long long v) {
  __shared__ long long scratch[kWarpSize];
  return block_reduce(v, static_cast<long long>(INT64_MAX), scratch, [](long long x) { return warp_min_ll(x); });
}
__device__ long long block_max_ll(long long v) {
  __shared__ long long scratch[kWarpSize];
  return block_reduce(v, -1LL, scratch, [](long long x) { return warp_max_ll(x); });
}

// The weight of a logit: 2^((z - max) * scale), in float (plain and top-p draws) or double (top-k).
template <bool kDouble>
struct Weight {
  float max;
  float scale;
  double scale_d;
  __device__ __forceinline__ double operator()(float z) const {
    if constexpr (kDouble) return exp2((static_cast<double>(z) - static_cast<double>(max)) * scale_d);
    else return static_cast<double>(exp2f((z - max) * scale));
  }
};

// Thread `tid`'s contiguous segment [lo, hi) of a row of V.
struct Segment {
  int64_t lo, hi;
};
__device__ __forceinline__ Segment segment_of(int64_t V) {
  const int64_t per = ceil_div(V, blockDim.x);
  const int64_t lo = per * threadIdx.x < V ? per * threadIdx.x : V;
  return {lo, lo + per < V ? lo + per : V};
}

// Index of the nth (1-based) element of the row matching `match(i)`, in index order; every thread
// gets it. nth must be between 1 and the number of matches.
template <typename Match>
__device__ int64_t nth_match(int64_t V, long long nth, Match match) {
  __shared__ long long before[kMaxThreads];
  __shared__ long long found;
  const Segment s = segment_of(V);
  long long count = 0;
  for (int64_t i = s.lo; i < s.hi; ++i) count += match(i) ? 1 : 0;
  before[threadIdx.x] = count;
  __syncthreads();
  if (threadIdx.x == 0) {
    long long run = 0;
    for (unsigned t = 0; t < blockDim.x; ++t) {
      const long long c = before[t];
      before[t] = run;
      run += c;
    }
    found = -1;
  }
  __syncthreads();
  if (before[threadIdx.x] < nth && nth <= before[threadIdx.x] + count) {
    long long seen = before[threadIdx.x];
    for (int64_t i = s.lo; i < s.hi; ++i)
      if (match(i) && ++seen == nth) {
        found = i;
        break;
      }
  }
  __syncthreads();
  const int64_t index = found;
  __syncthreads();  // `found` and `before` are free for the next call
  return index;
}

// Which tokens survive the filters: the top-k set (key above k_key, or equal up to index k_cut),
// then the nucleus within it.
struct Filter {
  bool k_on = false, p_on = false;
  uint32_t k_key = 0, p_key = 0;
  int64_t k_cut = 0, p_cut = 0;
  __device__ __forceinline__ bool in_top_k(int64_t i, uint32_t key) const {
    return !k_on || key > k_key || (key == k_key && i <= k_cut);
  }
  __device__ __forceinline__ bool kept(int64_t i, uint32_t key) const {
    return in_top_k(i, key) && (!p_on || key > p_key || (key == p_key && i <= p_cut));
  }
};

// The largest key t with measure(keys >= t) >= wanted, measure(i) summed over the row by
// `sum_over` (a block-wide sum). The empty bit pattern 0 always qualifies (every key is >= 0).
template <typename T, typename SumAtLeast>
__device__ uint32_t bisect_keys(T wanted, SumAtLeast sum_at_least) {
  uint32_t t = 0;
  for (int bit = 31; bit >= 0; --bit) {
    const uint32_t candidate = t | (1u << bit);
    if (sum_at_least(candidate) >= wanted) t = candidate;
  }
  return t;
}

template <bool kDouble>
__device__ int32_t draw_filtered(const float* z, int64_t V, float max, const SampleArgs& a, double u) {
  const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
  const Weight<kDouble> weight{max, static_cast<float>(a.scale), a.scale};
  Filter filter;
  if (a.top_k > 0 && a.top_k < V) {
    const long long k = a.top_k;
    filter.k_key = bisect_keys(k, [&](uint32_t candidate) {
      long long count = 0;
      for (int64_t i = tid; i < V; i += threads) count += rank_key(__ldg(z + i)) >= candidate ? 1 : 0;
      return block_sum_ll(count);
    });
    long long greater = 0;
    for (int64_t i = tid; i < V; i += threads) greater += rank_key(__ldg(z + i)) > filter.k_key ? 1 : 0;
    greater = block_sum_ll(greater);
    const uint32_t k_key = filter.k_key;
    filter.k_cut = nth_match(V, k - greater, [&](int64_t i) { return rank_key(__ldg(z + i)) == k_key; });
    filter.k_on = true;
  }
  if (a.top_p < 1.0) {
    double total = 0.0;
    for (int64_t i = tid; i < V; i += threads) {
      const float x = __ldg(z + i);
      if (filter.in_top_k(i, rank_key(x))) total += weight(x);
    }
    total = block_reduce_sum(total);
    const double wanted = a.top_p * total;
    const uint32_t p_key = bisect_keys(wanted, [&](uint32_t candidate) {
      double mass = 0.0;
      for (int64_t i = tid; i < V; i += threads) {
        const float x = __ldg(z + i);
        const uint32_t key = rank_key(x);
        if (key >= candidate && filter.in_top_k(i, key)) mass += weight(x);
      }
      return block_reduce_sum(mass);
    });
    double greater = 0.0;
    long long ties = 0;
    for (int64_t i = tid; i < V; i += threads) {
      const float x = __ldg(z + i);
      const uint32_t key = rank_key(x);
      if (!filter.in_top_k(i, key)) continue;
      if (key > p_key) greater += weight(x);
      else if (key == p_key) ++ties;
    }
    greater = block_reduce_sum(greater);
    ties = block_sum_ll(ties);
    // Boundary ties join in index order until the mass is reached (at least one token kept).
    const double tie_weight = weight(key_value(p_key));
    long long keep = 1;
    for (double mass = greater + tie_weight; keep < ties && mass < wanted; ++keep) mass += tie_weight;
    filter.p_key = p_key;
    filter.p_cut = nth_match(V, keep, [&](int64_t i) {
      const uint32_t key = rank_key(__ldg(z + i));
      return key == p_key && filter.in_top_k(i, key);
    });
    filter.p_on = true;
  }

  // Inverse CDF over the kept tokens in index order.
  __shared__ double before[kMaxThreads];
  __shared__ double target_shared;
  __shared__ int chosen;
  __shared__ long long token;
  const Segment s = segment_of(V);
  double own = 0.0;
  for (int64_t i = s.lo; i < s.hi; ++i) {
    const float x = __ldg(z + i);
    if (filter.kept(i, rank_key(x))) own += weight(x);
  }
  before[tid] = own;
  __syncthreads();
  if (tid == 0) {
    double run = 0.0;
    for (int t = 0; t < threads; ++t) {
      const double c = before[t];
      before[t] = run;
      run += c;
    }
    const double target = u * run;
    chosen = -1;
    double after = 0.0;
    for (int t = 0; t < threads && chosen < 0; ++t) {
      after = t + 1 < threads ? before[t + 1] : run;
      if (after > target) chosen = t;
    }
    target_shared = target;
    token = -1;
  }
  __syncthreads();
  if (tid == chosen) {  // prefix + the same running sum reaches `after` exactly at the segment's end
    const double target = target_shared, prefix = before[tid];
    double local = 0.0;
    for (int64_t i = s.lo; i < s.hi; ++i) {
      const float x = __ldg(z + i);
      if (!filter.kept(i, rank_key(x))) continue;
      local += weight(x);
      if (prefix + local > target) {
        token = i;
        break;
      }
    }
  }
  __syncthreads();
  long long result = token;
  if (result < 0) {  // not reachable with a finite total; the last kept token, as the CPU falls back
    long long last = -1;
    for (int64_t i = tid; i < V; i += threads)
      if (filter.kept(i, rank_key(__ldg(z + i)))) last = i;
    result = block_max_ll(last);
  }
  __syncthreads();  // the shared slots are reused by the next row
  return static_cast<int32_t>(result);
}

template <bool kDouble>
__global__ void __launch_bounds__(kMaxThreads)
sample_kernel(SampleArgs a, unsigned long long* bad_row) {  // a.tokens [B], a.logits [B,V]
  const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
  const int64_t V = a.V;
  for (int64_t row = blockIdx.x; row < a.B; row += gridDim.x) {
    const float* z = a.logits + row * V;
    float max = -INFINITY;
    bool nan = false;
    for (int64_t i = tid; i < V; i += threads) {
      const float x = __ldg(z + i);
      nan |= x != x;
      max = fmaxf(max, x);
    }
    nan = __syncthreads_or(nan) != 0;
    max = block_reduce_max(max);
    if (nan || !(max < INFINITY) || max == -INFINITY) {
      if (tid == 0) {
        a.tokens[row] = -1;
        atomicMin(bad_row, static_cast<unsigned long long>(row));
      }
      continue;
    }
    int32_t token;
    if (a.greedy) {
      long long first = INT64_MAX;
      for (int64_t i = tid; i < V && first == INT64_MAX; i += threads)
        if (__ldg(z + i) >= max) first = i;
      token = static_cast<int32_t>(block_min_ll(first));
    } else {
      token = draw_filtered<kDouble>(z, V, max, a, sample_uniform(a.seed, a.counter, static_cast<uint64_t>(row)));
    }
    if (tid == 0) a.tokens[row] = token;
  }
}

}  // namespace

int64_t sample_cuda(const SampleArgs& a) {
  if (a.B <= 0) return -1;
  const ErrorIndex bad_row;
  const unsigned grid = static_cast<unsigned>(a.B < (int64_t{1} << 30) ? a.B : (int64_t{1} << 30));
  const int threads = threads_for(a.V, 8, kMaxThreads);  // at most 8 logits per thread
  if (a.top_k > 0 && a.top_k < a.V && !a.greedy)
    STEPRL_LAUNCH((sample_kernel<true>), grid, threads, 0, stream(), a, bad_row.device());
  else
    STEPRL_LAUNCH((sample_kernel<false>), grid, threads, 0, stream(), a, bad_row.device());
  const uint64_t row = bad_row.read();
  return row == ErrorIndex::kNone ? -1 : static_cast<int64_t>(row);
}

}  // namespace steprl::cuda
