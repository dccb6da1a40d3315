// column_sum.cuh: out[c] += sum_n term(n, c) over an [N, C] matrix of terms, deterministically:
// the dbias of cuda/matmul.cu (term = dout[n,c]) and the dweight of cuda/rmsnorm.cu
// (term = dout[n,c] * inp[n,c] * rstd[n]). Rows are cut into fixed chunks of kRowsPerChunk; a
// block owns kColumns columns (x4 with 16-byte loads) of one chunk, its 8 row lanes sum every 8th
// row in increasing order and lane 0 adds the 8 lane sums in lane order. One chunk adds straight
// into out; more write partials [chunks, C] that a second kernel adds in chunk order. The order
// depends only on N and C, never on the GPU or the launch: the same bits on every run.
// Bytes: N*C*s read once (s = 4 per term input) plus 8*C*chunks for the partials; a warp reads
// 128 (512 with float4) contiguous bytes per row, so the first pass is memory-bound on an H100.
#pragma once

#include <memory>
#include <string>

#include "common.cuh"
#include "device.h"

namespace steprl::cuda {
namespace {  // internal linkage: each including .cu gets its own kernels
namespace column_sum {

constexpr int kColumns = 32;  // threads across columns (one warp)
constexpr int kLanes = 8;     // row lanes
constexpr int kThreads = kColumns * kLanes;
constexpr int64_t kRowsPerChunk = 256;

__device__ __forceinline__ float4 add4(float4 a, float4 b) {
  return make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w);
}

// Term: struct with `float4 vec(int64_t n, int64_t c) const` (columns c..c+3, 16-byte aligned)
// and `float one(int64_t n, int64_t c) const`. kVec: 4 columns per thread.
template <typename Term, bool kVec>
__global__ void __launch_bounds__(kThreads)
column_partial_kernel(float* out,      // [C] += when there is one chunk
                      float* partial,  // [chunks, C] otherwise
                      Term term, int64_t N, int64_t C) {
  constexpr int kWidth = kVec ? 4 : 1;
  __shared__ float4 lanes[kLanes][kColumns];
  const int cx = static_cast<int>(threadIdx.x) % kColumns, ry = static_cast<int>(threadIdx.x) / kColumns;
  const int64_t c = (int64_t{blockIdx.x} * kColumns + cx) * kWidth;
  const int64_t chunk = blockIdx.y;
  const int64_t n0 = chunk * kRowsPerChunk;
  const int64_t n1 = n0 + kRowsPerChunk < N ? n0 + kRowsPerChunk : N;
  float4 sum = make_float4(0.f, 0.f, 0.f, 0.f);
  if (c < C) {
    for (int64_t n = n0 + ry; n < n1; n += kLanes) {
      if constexpr (kVec) {
        sum = add4(sum, term.vec(n, c));
      } else {
        sum.x += term.one(n, c);
      }
    }
  }
  lanes[ry][cx] = sum;
  __syncthreads();
  if (ry != 0 || c >= C) return;
  float4 total = lanes[0][cx];
  for (int lane = 1; lane < kLanes; ++lane) total = add4(total, lanes[lane][cx]);
  const float values[4] = {total.x, total.y, total.z, total.w};
  const bool direct = gridDim.y == 1;
#pragma unroll
  for (int i = 0; i < kWidth; ++i) {
    if (direct) out[c + i] += values[i];
    else partial[chunk * C + c + i] = values[i];
  }
}

__global__ void column_finish_kernel(float* out, const float* partial, int64_t chunks, int64_t C) {  // out [C] +=
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t c = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; c < C; c += stride) {
    float sum = 0.0f;
    for (int64_t k = 0; k < chunks; ++k) sum += partial[k * C + c];
    out[c] += sum;
  }
}

// Queues out[c] += sum_n term(n, c). `vectors`: every term row is 16-byte aligned and C % 4 == 0.
template <typename Term>
void add_column_sums(float* out, const Term& term, int64_t N, int64_t C, bool vectors) {
  if (N <= 0 || C <= 0) return;
  const int64_t chunks = ceil_div(N, kRowsPerChunk);
  if (chunks > 65535)
    throw ArgumentError("N", "Expected at most " + std::to_string(65535 * kRowsPerChunk) +
                                 " rows for a column sum on cuda but received " + std::to_string(N));
  std::shared_ptr<DeviceAllocation> partial;
  if (chunks > 1) partial = allocate(static_cast<size_t>(chunks * C) * sizeof(float));
  float* partial_data = partial ? partial->as<float>() : nullptr;
  const int64_t width = vectors ? 4 : 1;
  const dim3 grid(static_cast<unsigned>(ceil_div(C, kColumns * width)), static_cast<unsigned>(chunks));
  if (vectors) STEPRL_LAUNCH((column_partial_kernel<Term, true>), grid, kThreads, 0, stream(), out, partial_data, term, N, C);
  else STEPRL_LAUNCH((column_partial_kernel<Term, false>), grid, kThreads, 0, stream(), out, partial_data, term, N, C);
  if (chunks > 1) {
    const unsigned blocks = static_cast<unsigned>(ceil_div(C, 256) < 4096 ? ceil_div(C, 256) : 4096);
    STEPRL_LAUNCH(column_finish_kernel, blocks, 256, 0, stream(), out, static_cast<const float*>(partial_data), chunks, C);
  }
  // `partial` returns to the cache now: the next op's kernels queue behind these on the one stream.
}

}  // namespace column_sum
}  // namespace
}  // namespace steprl::cuda
