// value_loss.cu: the clipped PPO value loss and its gradient with respect to the values
// (ALGORITHMS.md §1.8; the math and the arguments are include/steprl/value_loss.h, the CPU
// statement native/cpu/value_loss.cc). Two kernels:
//   rows    one block per row (grid-stride over rows): every column of the row's dvalues is
//           written (0 outside the masked response tokens), each token's loss term in float64
//           as on the cpu (so dvalues has the cpu's bits), the row's sum reduced in the block;
//   finish  one block of 1024 threads sums the rows in a fixed order: no float atomics, so the
//           loss has the same bits on every run (not the cpu's: the order of the sum differs).
// Bytes: 4 per column written, 12 (+ mask) per masked token read: memory-bound and small next to
// the forward pass that makes the values.
#include <math.h>

#include "../include/steprl/value_loss.h"
#include "common.cuh"
#include "device.h"

namespace steprl::cuda {
namespace {

constexpr int kMaxThreads = 256;
constexpr int kFinishThreads = 1024;

// Math.max / Math.min (what the cpu uses): NaN if either side is NaN.
__device__ __forceinline__ double js_max(double x, double y) { return isnan(x) || isnan(y) ? x + y : (x < y ? y : x); }
__device__ __forceinline__ double js_min(double x, double y) { return isnan(x) || isnan(y) ? x + y : (y < x ? y : x); }

template <bool kU8>
__device__ __forceinline__ bool mask_on(const void* mask, int64_t i) {
  if constexpr (kU8) return static_cast<const unsigned char*>(mask)[i] != 0;
  else return static_cast<const float*>(mask)[i] != 0.0f;
}

template <bool kU8>
__global__ void __launch_bounds__(kMaxThreads)
value_loss_rows_kernel(float* dvalues, double* row_loss,                      // [R, W], [R]
                       const float* values, const float* old_values,          // [R, W], [R, T]
                       const float* returns, const void* mask,                // [R, T] each
                       int64_t R, int64_t T, int64_t W, int64_t offset, double clip, double coef, double token_count) {
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    double sum = 0.0;
    for (int64_t c = threadIdx.x; c < W; c += blockDim.x) {
      const int64_t t = c - offset;
      float dv = 0.0f;
      if (t >= 0 && t < T && mask_on<kU8>(mask, row * T + t)) {
        const int64_t i = row * T + t;
        const double v = values[row * W + c], old = old_values[i], target = returns[i];
        const double clipped = js_min(js_max(v, old - clip), old + clip);
        const double d_plain = v - target, d_clipped = clipped - target;
        const double plain = d_plain * d_plain, clipped_sq = d_clipped * d_clipped;
        const bool unclipped = plain >= clipped_sq;
        sum += (coef * (0.5 * (unclipped ? plain : clipped_sq))) / token_count;
        dv = static_cast<float>((coef * (unclipped ? d_plain : 0.0)) / token_count);
      }
      dvalues[row * W + c] = dv;
    }
    const double total = block_reduce_sum(sum);
    if (threadIdx.x == 0) row_loss[row] = total;
  }
}

__global__ void __launch_bounds__(kFinishThreads)
value_loss_finish_kernel(double* total, const double* row_loss, int64_t R) {
  double sum = 0.0;
  for (int64_t row = threadIdx.x; row < R; row += blockDim.x) sum += row_loss[row];
  const double all = block_reduce_sum(sum);
  if (threadIdx.x == 0) *total = all;
}

}  // namespace

ValueLossResult value_loss_cuda(const ValueLossArgs& a) {
  if (a.R == 0 || a.W == 0) return {0.0};
  const unsigned blocks = static_cast<unsigned>(a.R < (int64_t{1} << 30) ? a.R : (int64_t{1} << 30));
  const int threads = threads_for(a.W, 4, kMaxThreads);  // at most 4 tokens per thread
  const auto row_loss = allocate(static_cast<size_t>(a.R) * sizeof(double));
  if (a.mask_u8) {
    STEPRL_LAUNCH(value_loss_rows_kernel<true>, blocks, threads, 0, stream(), a.dvalues, row_loss->as<double>(),
                  a.values, a.old_values, a.returns, a.mask, a.R, a.T, a.W, a.offset, a.clip, a.coef, a.token_count);
  } else {
    STEPRL_LAUNCH(value_loss_rows_kernel<false>, blocks, threads, 0, stream(), a.dvalues, row_loss->as<double>(),
                  a.values, a.old_values, a.returns, a.mask, a.R, a.T, a.W, a.offset, a.clip, a.coef, a.token_count);
  }
  const auto total = allocate(sizeof(double));
  STEPRL_LAUNCH(value_loss_finish_kernel, 1, kFinishThreads, 0, stream(), total->as<double>(), row_loss->as<double>(), a.R);
  double loss = 0.0;
  copy_to_host(&loss, total->data(), sizeof loss);  // waits for the kernels
  return {loss};
}

}  // namespace steprl::cuda
