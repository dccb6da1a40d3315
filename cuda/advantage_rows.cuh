// advantage_rows.cuh: device pieces the advantage families share (prl_advantage, prpo_advantage,
// entropy_segments, process_grpo_advantage, gae; ALGORITHMS.md §6.1(b)(c)):
//   - the 0/1 mask as float32 or uint8, read with or without noting bad values;
//   - a row's length L (one past its last token with m = 1) as a block reduction;
//   - block_reverse_scan: the inclusive reverse scan of an associative `combine` over the block's
//     threads, thread k receiving x_k ∘ x_{k+1} ∘ … ∘ x_{n−1} (Hillis-Steele with __shfl_down_sync
//     inside warps, warp aggregates through shared memory). A fixed tree: the same bits every run.
//     Rows longer than a block are scanned in chunks from the right, carrying the aggregate.
//   - the launch shape for one block per row, and the host side of a bad-mask report;
//   - Moments and Chan's merge, for batch whitening (gae, reinforce_advantage).
#pragma once

#include <string>

#include "common.cuh"
#include "device.h"

namespace steprl::cuda {

constexpr int kRowThreads = 256;  // most threads of a one-block-per-row kernel

// Threads for a row of T tokens: a multiple of 32, at least ~8 tokens each, at most kRowThreads.
inline int row_threads(int64_t T) {
  int threads = kWarpSize;
  while (threads < kRowThreads && threads * int64_t{8} < T) threads *= 2;
  return threads;
}
inline unsigned row_blocks(int64_t R) { return static_cast<unsigned>(R < (int64_t{1} << 30) ? R : (int64_t{1} << 30)); }

// m[i] != 0, noting the first index whose value is neither 0 nor 1.
template <bool kU8>
__device__ __forceinline__ bool mask_checked(const void* mask, int64_t i, unsigned long long* bad_mask) {
  if constexpr (kU8) {
    const unsigned char m = static_cast<const unsigned char*>(mask)[i];
    if (m > 1) atomicMin(bad_mask, static_cast<unsigned long long>(i));
    return m != 0;
  } else {
    const float m = static_cast<const float*>(mask)[i];
    if (m != 0.0f && m != 1.0f) atomicMin(bad_mask, static_cast<unsigned long long>(i));
    return m != 0.0f;
  }
}
template <bool kU8>
__device__ __forceinline__ bool mask_on(const void* mask, int64_t i) {
  if constexpr (kU8) return static_cast<const unsigned char*>(mask)[i] != 0;
  else return static_cast<const float*>(mask)[i] != 0.0f;
}

__device__ __forceinline__ long long warp_reduce_max_ll(long long v) {
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) {
    const long long other = __shfl_xor_sync(kFullMask, v, offset);
    v = other > v ? other : v;
  }
  return v;
}
__device__ inline long long block_reduce_max_ll(long long v) {
  __shared__ long long scratch[kWarpSize];
  return block_reduce(v, 0ll, scratch, [](long long x) { return warp_reduce_max_ll(x); });
}

// L of the row at `base` (every thread gets it); checks each mask value once when kCheck.
template <bool kU8, bool kCheck>
__device__ __forceinline__ int64_t row_length(const void* mask, int64_t base, int64_t T, unsigned long long* bad_mask) {
  long long last = 0;
  for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
    const bool on = kCheck ? mask_checked<kU8>(mask, base + t, bad_mask) : mask_on<kU8>(mask, base + t);
    if (on) last = t + 1;
  }
  return block_reduce_max_ll(last);
}

// ---- block reverse scan ----------------------------------------------------------------------

__device__ __forceinline__ double shuffle_down(double v, int offset) { return __shfl_down_sync(kFullMask, v, offset); }

// x_t = b + a·x_{t+1} (GAE's Â_t = δ_t + γλ·Â_{t+1}): composing earlier ∘ later.
struct Affine {
  double a, b;
};
__device__ __forceinline__ Affine shuffle_down(Affine v, int offset) {
  return Affine{__shfl_down_sync(kFullMask, v.a, offset), __shfl_down_sync(kFullMask, v.b, offset)};
}
__device__ __forceinline__ Affine affine_then(Affine earlier, Affine later) {
  return Affine{earlier.a * later.a, fma(earlier.a, later.b, earlier.b)};
}

// "The value of the nearest marked position at or after me" (fill from the next step end).
struct Marked {
  double value;
  int marked;
};
__device__ __forceinline__ Marked shuffle_down(Marked v, int offset) {
  return Marked{__shfl_down_sync(kFullMask, v.value, offset), __shfl_down_sync(kFullMask, v.marked, offset)};
}
__device__ __forceinline__ Marked first_marked(Marked earlier, Marked later) { return earlier.marked ? earlier : later; }

// Every thread of the (1-D, multiple-of-32) block must call it; `scratch` holds 32 T in shared
// memory. Returns x_k ∘ … ∘ x_{n−1}; *total receives x_0 ∘ … ∘ x_{n−1} in every thread.
template <typename T, typename Combine>
__device__ __forceinline__ T block_reverse_scan(T x, T identity, Combine combine, T* scratch, T* total) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize, warps = blockDim.x / kWarpSize;
  for (int offset = 1; offset < kWarpSize; offset <<= 1) {
    const T later = shuffle_down(x, offset);
    if (lane + offset < kWarpSize) x = combine(x, later);
  }
  if (lane == 0) scratch[warp] = x;  // the warp's aggregate
  __syncthreads();
  T after = identity;  // aggregate of the warps after this one
  for (int w = warps - 1; w > warp; --w) after = combine(scratch[w], after);
  T all = after;
  for (int w = warp; w >= 0; --w) all = combine(scratch[w], all);
  *total = all;
  __syncthreads();  // scratch may be reused by the next call
  return combine(x, after);
}

// ---- batch moments (gae, reinforce_advantage whitening) --------------------------------------

struct Moments {
  double n, mean, m2;  // count, mean, Σ (x − mean)²
};

// Chan et al.'s pairwise update: the moments of a ∪ b.
// Divisions are reciprocals (__drcp_rn): a '/' of doubles brings ptxas's slow-path subroutine.
__device__ __forceinline__ Moments merge(Moments a, Moments b) {
  if (b.n == 0.0) return a;
  if (a.n == 0.0) return b;
  const double n = a.n + b.n, delta = b.mean - a.mean, share = b.n * __drcp_rn(n);
  return Moments{n, a.mean + delta * share, a.m2 + b.m2 + delta * delta * (a.n * share)};
}

// ---- host ----------------------------------------------------------------------------------

// Throws the TypeScript layer's mask error when a kernel noted a bad mask value (reads the word).
inline void throw_if_bad_mask(const ErrorIndex& bad_mask, const void* mask, bool mask_u8) {
  const uint64_t bad = bad_mask.read();
  if (bad == ErrorIndex::kNone) return;
  double value;
  if (mask_u8) {
    unsigned char byte = 0;
    copy_to_host(&byte, static_cast<const unsigned char*>(mask) + bad, 1);
    value = byte;
  } else {
    float f = 0.0f;
    copy_to_host(&f, static_cast<const float*>(mask) + bad, sizeof f);
    value = f;
  }
  throw ArgumentError("mask", "Expected 0 or 1 for every element of mask but received " + js_number(value) +
                                  " of type number at index " + std::to_string(bad));
}

// Throws "Expected a finite number for every [valid (mask = 1) ]element of <name> ..." for a noted index.
inline void throw_if_not_finite(const ErrorIndex& bad, const float* values, const char* name, bool valid_only) {
  const uint64_t index = bad.read();
  if (index == ErrorIndex::kNone) return;
  float value = 0.0f;
  copy_to_host(&value, values + index, sizeof value);
  throw ArgumentError(name, std::string("Expected a finite number for every ") + (valid_only ? "valid (mask = 1) " : "") +
                                "element of " + name + " but received " + js_number(value) + " of type number at index " +
                                std::to_string(index));
}

}  // namespace steprl::cuda
