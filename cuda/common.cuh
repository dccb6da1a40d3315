// common.cuh: the only CUDA primitives steprl kernels use: error checks, the launch macro,
// dynamic shared memory, warp/block reductions, the online log-sum-exp pair and its entropy-carrying
// triple (SoftmaxStats), bf16, 16-byte loads.
//
// Two modes: real nvcc (__CUDACC__) and the SIMT simulator (STEPRL_CUDA_SIM, g++ as C++17, see
// sim/README.md). Kernels include nothing else from CUDA, so the same source runs in both.
// Reductions use __shfl_xor_sync butterflies (every lane ends with the result) and a 32-slot
// __shared__ scratch; block reductions take 1-D blocks whose blockDim.x is a multiple of 32,
// at most 1024. Log-sum-exp: the pair (m, s) stands for s * exp(m) = sum_i exp(x_i), combined
// as (max(m1, m2), s1 * exp(m1 - m) + s2 * exp(m2 - m)), the streaming form of log-softmax.
#pragma once

#include <math.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "../include/steprl/errors.h"  // DeviceError (what CUDA failures throw), ArgumentError

#if defined(STEPRL_CUDA_SIM)
#include "sim/sim.h"
#elif defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#else
#error "cuda/common.cuh needs nvcc (__CUDACC__) or the simulator (-DSTEPRL_CUDA_SIM)"
#endif

namespace steprl {

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;

// ---- errors (host) ---------------------------------------------------------------------------

// Errors a kernel fault leaves behind. On a GPU they are sticky: the CUDA context is lost, every
// later CUDA call of the process returns the same error, and only a new process recovers. Faults
// are also asynchronous: without STEPRL_CUDA_SYNC=1 they surface at a later call (often another
// op's launch or a copy), not at the kernel that faulted.
inline bool is_sticky_cuda_error(cudaError_t error) {
  switch (error) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorMisalignedAddress:
    case cudaErrorAssert:
#if !defined(STEPRL_CUDA_SIM)
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
#endif
      return true;
    default:
      return false;
  }
}

// STEPRL_CUDA_SYNC=1 (or CUDA_LAUNCH_BLOCKING=1): STEPRL_LAUNCH waits for each kernel and
// reports a fault at that kernel's launch, by name. Read once; slow, for debugging.
inline bool sync_after_launch() {
  static const bool enabled = [] {
    for (const char* name : {"STEPRL_CUDA_SYNC", "CUDA_LAUNCH_BLOCKING"}) {
      const char* value = std::getenv(name);
      if (value != nullptr && value[0] != '\0' && std::string(value) != "0") return true;
    }
    return false;
  }();
  return enabled;
}

[[noreturn]] inline void throw_cuda_error(cudaError_t error, const char* what, const char* file, int line,
                                          const char* detail = nullptr) {
  std::string message = std::string("CUDA error ") + cudaGetErrorName(error) + " (" +
                        cudaGetErrorString(error) + ") from " + what + " at " + file + ":" + std::to_string(line);
  if (detail != nullptr && detail[0] != '\0') message += std::string(": ") + detail;
  if (is_sticky_cuda_error(error)) {
    message += ". A kernel faulted: on a GPU this error is sticky, the CUDA context is lost and every later "
               "CUDA call fails, so the process must restart";
    if (!sync_after_launch())
      message += " (faults are reported asynchronously, possibly at a later op than the kernel that faulted; "
                 "rerun with STEPRL_CUDA_SYNC=1 to name it)";
  }
  throw DeviceError(message);
}

}  // namespace steprl

// Reading the error back with cudaGetLastError keeps a non-sticky failure from being blamed on
// the next, unrelated launch check.
#define STEPRL_CUDA_CHECK(expr)                                                \
  do {                                                                         \
    const cudaError_t steprl_error_ = (expr);                                  \
    if (steprl_error_ != cudaSuccess) {                                        \
      (void)cudaGetLastError();                                                \
      ::steprl::throw_cuda_error(steprl_error_, #expr, __FILE__, __LINE__);    \
    }                                                                          \
  } while (0)

// STEPRL_LAUNCH(kernel, grid, block, shared_bytes, stream, args...). Put a templated kernel in
// parentheses: STEPRL_LAUNCH((softmax_kernel<float, 256>), ...). With STEPRL_CUDA_SYNC=1 the CUDA
// form waits for the kernel and blames a fault on it by name; the simulator's launches are
// synchronous, so they always do.
#if defined(STEPRL_CUDA_SIM)
#define STEPRL_LAUNCH(kernel, grid, block, shared_bytes, stream, ...)                                  \
  do {                                                                                                 \
    const cudaError_t steprl_error_ =                                                                  \
        ::steprl_sim::launch(#kernel, kernel, grid, block, shared_bytes, stream, ##__VA_ARGS__);       \
    if (steprl_error_ != cudaSuccess) {                                                                \
      (void)cudaGetLastError();                                                                        \
      ::steprl::throw_cuda_error(steprl_error_, "launch of " #kernel, __FILE__, __LINE__,              \
                                 ::steprl_sim::last_launch_failure());                                 \
    }                                                                                                  \
  } while (0)
#define STEPRL_DYNAMIC_SHARED(type, name) \
  type* name = reinterpret_cast<type*>(::steprl_sim::current_fiber()->view->dynamic_shared)
#else
#define STEPRL_LAUNCH(kernel, grid, block, shared_bytes, stream, ...)                                  \
  do {                                                                                                 \
    kernel<<<(grid), (block), (shared_bytes), (stream)>>>(__VA_ARGS__);                                \
    cudaError_t steprl_error_ = cudaGetLastError();                                                    \
    if (steprl_error_ != cudaSuccess) {                                                                \
      ::steprl::throw_cuda_error(steprl_error_, "launch of " #kernel, __FILE__, __LINE__);             \
    }                                                                                                  \
    if (::steprl::sync_after_launch()) {                                                               \
      steprl_error_ = cudaStreamSynchronize(stream);                                                   \
      if (steprl_error_ != cudaSuccess) {                                                              \
        (void)cudaGetLastError();                                                                      \
        ::steprl::throw_cuda_error(steprl_error_, "kernel " #kernel " (STEPRL_CUDA_SYNC: waited for it)", \
                                   __FILE__, __LINE__);                                                \
      }                                                                                                \
    }                                                                                                  \
  } while (0)
#define STEPRL_DYNAMIC_SHARED(type, name)                                  \
  extern __shared__ __align__(16) unsigned char steprl_dynamic_shared_[]; \
  type* name = reinterpret_cast<type*>(steprl_dynamic_shared_)
#endif

namespace steprl {

__host__ __device__ constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Block size for `units` of work per block: the smallest power of two from 32 up to max_threads
// that leaves each thread at most `units_per_thread` units (max_threads when even that is not enough).
__host__ inline int threads_for(int64_t units, int64_t units_per_thread, int max_threads) {
  int threads = kWarpSize;
  while (threads < max_threads && threads * units_per_thread < units) threads *= 2;
  return threads;
}

// ---- warp and block reductions (every lane / thread receives the result) -------------------------

__device__ __forceinline__ float warp_reduce_sum(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}
__device__ __forceinline__ double warp_reduce_sum(double v) {
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}
__device__ __forceinline__ float warp_reduce_max(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// Lanes (bit i = lane i) whose predicate holds; every lane of the warp must take part.
__device__ __forceinline__ unsigned warp_ballot(bool predicate) { return __ballot_sync(kFullMask, predicate); }
__device__ __forceinline__ bool warp_any(bool predicate) { return warp_ballot(predicate) != 0u; }

// Warp partials go through `scratch`; every warp then reduces all partials itself (no broadcast
// slot needed), and the trailing barrier lets the next call reuse the scratch safely.
template <typename T, typename WarpReduce>
__device__ __forceinline__ T block_reduce(T v, T identity, T* scratch, WarpReduce warp_reduce) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int warps = blockDim.x / kWarpSize;
  v = warp_reduce(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = warp_reduce(lane < warps ? scratch[lane] : identity);
  __syncthreads();
  return v;
}

__device__ inline float block_reduce_sum(float v) {
  __shared__ float scratch[kWarpSize];
  return block_reduce(v, 0.0f, scratch, [](float x) { return warp_reduce_sum(x); });
}
__device__ inline double block_reduce_sum(double v) {
  __shared__ double scratch[kWarpSize];
  return block_reduce(v, 0.0, scratch, [](double x) { return warp_reduce_sum(x); });
}
__device__ inline float block_reduce_max(float v) {
  __shared__ float scratch[kWarpSize];
  return block_reduce(v, -INFINITY, scratch, [](float x) { return warp_reduce_max(x); });
}

// ---- online log-sum-exp --------------------------------------------------------------------------

struct LogSumExp {
  float max;  // running maximum (-inf when empty)
  float sum;  // sum of exp(x_i - max)
};

__host__ __device__ __forceinline__ LogSumExp lse_identity() { return LogSumExp{-INFINITY, 0.0f}; }

// Exact for -inf entries (they add nothing), +inf (no inf - inf) and NaN (propagates).
__host__ __device__ __forceinline__ LogSumExp lse_combine(LogSumExp a, LogSumExp b) {
  const float m = (a.max > b.max || a.max != a.max) ? a.max : b.max;
  if (m == -INFINITY) return lse_identity();
  const float sa = a.max == m ? a.sum : a.sum * expf(a.max - m);
  const float sb = b.max == m ? b.sum : b.sum * expf(b.max - m);
  return LogSumExp{m, sa + sb};
}
__host__ __device__ __forceinline__ LogSumExp lse_add(LogSumExp state, float x) {
  return lse_combine(state, LogSumExp{x, 1.0f});
}
// log(sum_i exp(x_i)); -inf for an empty or all -inf input.
__host__ __device__ __forceinline__ float lse_value(LogSumExp state) { return state.max + logf(state.sum); }

__device__ __forceinline__ LogSumExp warp_reduce_lse(LogSumExp v) {
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) {
    const LogSumExp other{__shfl_xor_sync(kFullMask, v.max, offset), __shfl_xor_sync(kFullMask, v.sum, offset)};
    v = lse_combine(v, other);
  }
  return v;
}
__device__ inline LogSumExp block_reduce_lse(LogSumExp v) {
  __shared__ LogSumExp scratch[kWarpSize];
  return block_reduce(v, lse_identity(), scratch, [](LogSumExp x) { return warp_reduce_lse(x); });
}

// ---- online softmax statistics with the entropy term ------------------------------------------
//
// For logits z and scale c = log2(e) / tau, the triple (m, s, d) stands for
//   s = sum_i 2^t_i,  d = sum_i 2^t_i * t_i,  t_i = (z_i - m) * c   (m: the running max of z),
// so that logZ = m / tau + ln s and the entropy H = ln s - ln2 * d / s. Rebasing to a larger max
// M multiplies by r = 2^((m - M) c) and shifts t: (s, d) -> (r s, r (d + (m - M) c s)). An empty
// or all -inf state has m = -inf, s = d = 0 and adds nothing.

struct SoftmaxStats {
  float max;  // running max of the raw logits (-inf when empty)
  float sum;  // s
  float dot;  // d
};

__host__ __device__ __forceinline__ SoftmaxStats softmax_identity() { return SoftmaxStats{-INFINITY, 0.0f, 0.0f}; }

// `a` rebased to max m >= a.max (a.max == -inf gives the empty state).
__host__ __device__ __forceinline__ SoftmaxStats softmax_rebase(SoftmaxStats a, float m, float scale) {
  if (a.max == m || a.max == -INFINITY) return SoftmaxStats{m, a.sum, a.dot};
  const float shift = (a.max - m) * scale;  // < 0
  const float r = exp2f(shift);
  return SoftmaxStats{m, a.sum * r, r * (a.dot + shift * a.sum)};
}

__host__ __device__ __forceinline__ SoftmaxStats softmax_combine(SoftmaxStats a, SoftmaxStats b, float scale) {
  const float m = fmaxf(a.max, b.max);
  if (m == -INFINITY) return softmax_identity();
  a = softmax_rebase(a, m, scale);
  b = softmax_rebase(b, m, scale);
  return SoftmaxStats{m, a.sum + b.sum, a.dot + b.dot};
}

__device__ __forceinline__ SoftmaxStats warp_reduce_softmax(SoftmaxStats v, float scale) {
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) {
    const SoftmaxStats other{__shfl_xor_sync(kFullMask, v.max, offset), __shfl_xor_sync(kFullMask, v.sum, offset),
                             __shfl_xor_sync(kFullMask, v.dot, offset)};
    v = softmax_combine(v, other, scale);
  }
  return v;
}
__device__ inline SoftmaxStats block_reduce_softmax(SoftmaxStats v, float scale) {
  __shared__ SoftmaxStats scratch[kWarpSize];
  return block_reduce(v, softmax_identity(), scratch, [scale](SoftmaxStats x) { return warp_reduce_softmax(x, scale); });
}

// ---- 16-byte vector memory access (pointers must be 16-byte aligned) -----------------------------

#if defined(STEPRL_CUDA_SIM)
#define STEPRL_CHECK_ALIGNED_16(p)                                                               \
  do {                                                                                           \
    if (reinterpret_cast<std::uintptr_t>(p) % 16 != 0)                                           \
      ::steprl_sim::device_fault("misaligned 16-byte access at %p", static_cast<const void*>(p)); \
  } while (0)
#else
#define STEPRL_CHECK_ALIGNED_16(p) ((void)0)
#endif

// Read-only path (ld.global.nc.v4): only for buffers no thread writes during the kernel.
__device__ __forceinline__ float4 load_float4(const float* p) {
  STEPRL_CHECK_ALIGNED_16(p);
  return __ldg(reinterpret_cast<const float4*>(p));
}
__device__ __forceinline__ int4 load_int4(const int* p) {
  STEPRL_CHECK_ALIGNED_16(p);
  return __ldg(reinterpret_cast<const int4*>(p));
}
__device__ __forceinline__ uint4 load_uint4(const void* p) {  // e.g. 8 x bf16
  STEPRL_CHECK_ALIGNED_16(p);
  return __ldg(reinterpret_cast<const uint4*>(p));
}
__device__ __forceinline__ void store_float4(float* p, float4 v) {
  STEPRL_CHECK_ALIGNED_16(p);
  *reinterpret_cast<float4*>(p) = v;
}

}  // namespace steprl
