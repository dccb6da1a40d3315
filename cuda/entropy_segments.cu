// entropy_segments.cu: PRPO's entropy-spike segmentation (ALGORITHMS.md §5.2; the CPU statement is
// native/cpu/entropy_segments.cc). One block per row:
//   1. n = the row's valid tokens, checking the mask and that valid entropies are finite;
//   2. n < K + 1: id 0 on valid tokens; otherwise K rounds of a block arg-max under the total order
//      (entropy desc, index asc), each restricted to the tokens after the previous pick in that
//      order, so the K anchors come out without a per-token "taken" flag and ties go to the lower
//      index; the result is unique, so the reduction order cannot change it;
//   3. thread 0 sorts the ≤ 256 anchors and applies the min-gap filter (or the reference's, compat)
//      into shared memory; every thread then writes id(t) = #cuts ≤ t, −1 where m = 0.
// Cost: K + 2 passes over the row (the later ones from L1/L2), K + small barriers; a rollout-time
// op of a few hundred microseconds at most, not worth more machinery.
#include "entropy_segments.h"

#include "advantage_rows.cuh"

namespace steprl::cuda {
namespace {

struct Pick {
  float value;
  long long index;  // −1: none
};

// The larger of two picks in the order (value desc, index asc); "none" loses.
__device__ __forceinline__ Pick better(Pick a, Pick b) {
  if (a.index < 0) return b;
  if (b.index < 0) return a;
  return (a.value > b.value || (a.value == b.value && a.index < b.index)) ? a : b;
}
__device__ __forceinline__ Pick warp_best(Pick v) {
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1)
    v = better(v, Pick{__shfl_xor_sync(kFullMask, v.value, offset), __shfl_xor_sync(kFullMask, v.index, offset)});
  return v;
}

// Cut positions from sorted anchors: the clean rule or the reference's loop (entropy_segments.h).
__device__ int64_t anchor_cuts(int64_t* cuts, const int64_t* anchors, int64_t K, int64_t min_gap, bool compat) {
  int64_t count = 0, last = 0;
  auto offer = [&](int64_t a) {
    if (a - last >= min_gap) {
      cuts[count++] = a;
      last = a;
    }
  };
  if (!compat) {
    for (int64_t i = 0; i < K; ++i) offer(anchors[i]);
    return count;
  }
  for (int64_t i = 0; i + 1 < K; ++i) {
    if (anchors[i + 1] - anchors[i] > min_gap) {
      offer(anchors[i]);
      continue;
    }
    int64_t j = i + 1;
    while (j < K && anchors[j] - anchors[i] <= min_gap) ++j;
    if (j < K) offer(anchors[j]);
  }
  return count;
}

template <bool kU8>
__global__ void __launch_bounds__(kRowThreads)
entropy_segments_kernel(int32_t* segments,                      // [R,T]
                        const float* entropy, const void* mask,  // [R,T] each
                        int64_t R, int64_t T, int64_t K, int64_t min_gap, bool compat,
                        unsigned long long* bad_mask, unsigned long long* bad_entropy) {
  __shared__ int64_t anchors[kMaxBranches];
  __shared__ int64_t cuts[kMaxBranches];
  __shared__ Pick pick_scratch[kWarpSize];
  __shared__ int64_t cut_count;
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    const int64_t base = row * T;
    double valid = 0.0;
    for (int64_t t = threadIdx.x; t < T; t += blockDim.x)
      if (mask_checked<kU8>(mask, base + t, bad_mask)) {
        valid += 1.0;
        if (!isfinite(entropy[base + t])) atomicMin(bad_entropy, static_cast<unsigned long long>(base + t));
      }
    const double n = block_reduce_sum(valid);
    if (n >= static_cast<double>(K + 1)) {
      Pick previous{INFINITY, -1};  // every candidate comes after it in the order
      for (int64_t k = 0; k < K; ++k) {
        Pick best{0.0f, -1};
        for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
          if (!mask_on<kU8>(mask, base + t)) continue;
          const Pick candidate{entropy[base + t], t};
          const bool after = previous.index < 0 || candidate.value < previous.value ||
                             (candidate.value == previous.value && candidate.index > previous.index);
          if (after) best = better(best, candidate);
        }
        best = block_reduce(best, Pick{0.0f, -1}, pick_scratch, [](Pick x) { return warp_best(x); });
        if (threadIdx.x == 0) anchors[k] = best.index;
        previous = best;
      }
      if (threadIdx.x == 0) {
        for (int64_t i = 1; i < K; ++i)  // insertion sort: K <= 256, once per row
          for (int64_t j = i; j > 0 && anchors[j - 1] > anchors[j]; --j) {
            const int64_t swap = anchors[j];
            anchors[j] = anchors[j - 1];
            anchors[j - 1] = swap;
          }
        cut_count = anchor_cuts(cuts, anchors, K, min_gap, compat);
      }
    } else if (threadIdx.x == 0) {
      cut_count = 0;
    }
    __syncthreads();
    const int64_t count = cut_count;
    for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
      int32_t id = -1;
      if (mask_on<kU8>(mask, base + t)) {
        id = 0;
        while (id < count && cuts[id] <= t) ++id;
      }
      segments[base + t] = id;
    }
    __syncthreads();  // cuts and cut_count are rewritten for the next row
  }
}

}  // namespace

void entropy_segments_cuda(const EntropySegmentsArgs& a) {
  if (a.R == 0 || a.T == 0) return;
  const ErrorIndex bad_mask, bad_entropy;
  if (a.mask_u8) {
    STEPRL_LAUNCH(entropy_segments_kernel<true>, row_blocks(a.R), row_threads(a.T), 0, stream(), a.segments, a.entropy, a.mask,
                  a.R, a.T, a.max_branches, a.min_gap, a.compat, bad_mask.device(), bad_entropy.device());
  } else {
    STEPRL_LAUNCH(entropy_segments_kernel<false>, row_blocks(a.R), row_threads(a.T), 0, stream(), a.segments, a.entropy, a.mask,
                  a.R, a.T, a.max_branches, a.min_gap, a.compat, bad_mask.device(), bad_entropy.device());
  }
  throw_if_bad_mask(bad_mask, a.mask, a.mask_u8);  // waits for the kernel
  throw_if_not_finite(bad_entropy, a.entropy, "entropy", true);
}

}  // namespace steprl::cuda
