// kl_penalty.cu: per-token KL estimates between the policy and a frozen reference and their
// derivatives (ALGORITHMS.md §1.3; the math is kl_estimate.cuh, the CPU statement
// native/cpu/kl_penalty.h). Element-wise over n tokens: a grid-stride loop over 16-byte vectors,
// 4 tokens per thread per step, two loads in and two stores out per vector. Elements before the
// first 16-byte boundary and after the last whole vector are done singly; when the four arrays
// are not aligned alike (views at different offsets), every element is.
// Bytes per launch: 16n (two fp32 inputs, two fp32 outputs): memory-bound (~20 instructions per
// token for k3 against ~200 per 16 bytes an H100 SM can spend at full bandwidth).
#include "kl_penalty.h"

#include "common.cuh"
#include "device.h"
#include "kl_estimate.cuh"

namespace steprl::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ int64_t misalignment(const void* p) { return static_cast<int64_t>(reinterpret_cast<std::uintptr_t>(p) % 16); }

__global__ void __launch_bounds__(kThreads)
kl_penalty_kernel(float* kl, float* dkl,                              // [n] each
                  const float* logprobs, const float* ref_logprobs,   // [n] each
                  int64_t n, KlEstimator estimator) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  const int64_t first = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const int64_t offset = misalignment(logprobs);
  const bool vectors = misalignment(ref_logprobs) == offset && misalignment(kl) == offset && misalignment(dkl) == offset;
  int64_t head = vectors ? (16 - offset) % 16 / 4 : n;
  head = head < n ? head : n;
  for (int64_t i = first; i < head; i += stride) kl_estimate(estimator, logprobs[i], ref_logprobs[i], kl + i, dkl + i);
  const int64_t count = (n - head) / 4;
  for (int64_t v = first; v < count; v += stride) {
    const int64_t i = head + 4 * v;
    const float4 l = load_float4(logprobs + i), r = load_float4(ref_logprobs + i);
    float4 k, g;
    kl_estimate(estimator, l.x, r.x, &k.x, &g.x);
    kl_estimate(estimator, l.y, r.y, &k.y, &g.y);
    kl_estimate(estimator, l.z, r.z, &k.z, &g.z);
    kl_estimate(estimator, l.w, r.w, &k.w, &g.w);
    store_float4(kl + i, k);
    store_float4(dkl + i, g);
  }
  for (int64_t i = head + 4 * count + first; i < n; i += stride) kl_estimate(estimator, logprobs[i], ref_logprobs[i], kl + i, dkl + i);
}

}  // namespace

void kl_penalty_cuda(const KlPenaltyArgs& a) {
  if (a.n == 0) return;
  // One vector per thread until the grid covers ~8 waves of an H100 (132 SMs x 2048 threads);
  // beyond that the grid-stride loop takes over.
  const int64_t blocks = ceil_div(ceil_div(a.n, 4), kThreads);
  const unsigned grid = static_cast<unsigned>(blocks < 132 * 8 * 8 ? blocks : 132 * 8 * 8);
  STEPRL_LAUNCH(kl_penalty_kernel, grid, kThreads, 0, stream(), a.kl, a.dkl, a.logprobs, a.ref_logprobs, a.n, a.estimator);
}

}  // namespace steprl::cuda
