// selftest_kernels.cuh: the kernels selftest.cu runs, written as ordinary steprl CUDA code.
//
// They use only cuda/common.cuh, so `nvcc -arch=sm_90 -c cuda/sim/selftest.cu` checks that the
// code the simulator accepts is valid CUDA. Some are deliberately wrong (barrier skipped by some
// threads, a lane missing from a shuffle, out-of-bounds writes) to check that the simulator
// reports them instead of hanging or passing.
#pragma once

#include "../common.cuh"

namespace selftest {

using namespace steprl;

// Row sum and row max of in [R, C] with the shared block reductions (scratch reused twice).
__global__ void row_sum_max_kernel(float* sums, float* maxes, const float* in, int64_t C) {
  const float* row = in + static_cast<int64_t>(blockIdx.x) * C;
  float acc = 0.0f, best = -INFINITY;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    acc += row[c];
    best = fmaxf(best, row[c]);
  }
  acc = block_reduce_sum(acc);
  best = block_reduce_max(best);
  if (threadIdx.x == 0) {
    sums[blockIdx.x] = acc;
    maxes[blockIdx.x] = best;
  }
}

// Hand-written `if (warp == 0)` second stage over a grid-stride loop, combined with atomics.
__global__ void warp0_sum_kernel(float* total, const float* in, int64_t n) {
  __shared__ float partial[kWarpSize];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  float acc = 0.0f;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    acc += in[i];
  }
  acc = warp_reduce_sum(acc);
  if (lane == 0) partial[warp] = acc;
  __syncthreads();
  if (warp == 0) {
    float v = lane < static_cast<int>(blockDim.x / kWarpSize) ? partial[lane] : 0.0f;
    for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) v += __shfl_down_sync(kFullMask, v, offset);
    if (lane == 0) atomicAdd(total, v);
  }
}

// One warp per row, double accumulation; whole warps past the last row return early.
__global__ void warp_row_sum_double_kernel(double* sums, const float* in, int64_t R, int64_t C) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kWarpSize) + threadIdx.x / kWarpSize;
  if (row >= R) return;
  const int lane = threadIdx.x % kWarpSize;
  double acc = 0.0;
  for (int64_t c = lane; c < C; c += kWarpSize) acc += in[row * C + c];
  acc = warp_reduce_sum(acc);
  if (lane == 0) sums[row] = acc;
}

// Every (block, thread) of a 3-D launch counts itself once; lanes check their warp's first thread.
__global__ void geometry_kernel(int* hits, int* errors, int check_warps) {
  const int64_t block = blockIdx.x + static_cast<int64_t>(gridDim.x) * (blockIdx.y + static_cast<int64_t>(gridDim.y) * blockIdx.z);
  const int64_t thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const int64_t threads = static_cast<int64_t>(blockDim.x) * blockDim.y * blockDim.z;
  atomicAdd(&hits[block * threads + thread], 1);
  if (check_warps) {
    const long long first = __shfl_sync(kFullMask, static_cast<long long>(thread), 0);
    if (first != thread - thread % kWarpSize) atomicAdd(errors, 1);
  }
}

// Reverses each row of n elements through dynamic shared memory.
__global__ void reverse_rows_kernel(float* out, const float* in, int n) {
  STEPRL_DYNAMIC_SHARED(float, tile);
  const int64_t base = static_cast<int64_t>(blockIdx.x) * n;
  for (int i = threadIdx.x; i < n; i += blockDim.x) tile[i] = in[base + i];
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) out[base + i] = tile[n - 1 - i];
}

__global__ void atomics_kernel(int* count, unsigned long long* wide, float* fsum, double* dsum, int* best,
                               unsigned* cas_count) {
  const int id = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(count, 1);
  atomicAdd(wide, 2ull);
  atomicAdd(fsum, 1.0f);
  atomicAdd(dsum, 0.5);
  atomicMax(best, id);
  unsigned old = atomicAdd(cas_count, 0u), assumed;
  do {
    assumed = old;
    old = atomicCAS(cas_count, assumed, assumed + 1);
  } while (old != assumed);
}

// Inclusive Hillis-Steele scan of one blockDim.x-long row per block: a barrier in every iteration.
__global__ void scan_kernel(int* out, const int* in) {
  __shared__ int buffer[2][1024];
  const int t = threadIdx.x;
  const int64_t base = static_cast<int64_t>(blockIdx.x) * blockDim.x;
  int current = 0;
  buffer[current][t] = in[base + t];
  __syncthreads();
  for (unsigned offset = 1; offset < blockDim.x; offset <<= 1) {
    const int v = buffer[current][t] + (t >= static_cast<int>(offset) ? buffer[current][t - offset] : 0);
    current ^= 1;
    buffer[current][t] = v;
    __syncthreads();
  }
  out[base + t] = buffer[current][t];
}

// Classic shared-memory tree reduction (power-of-two blockDim.x) plus __syncthreads_count.
__global__ void tree_sum_kernel(int* sums, int* odd_counts, const int* in) {
  __shared__ int s[1024];
  const int t = threadIdx.x;
  s[t] = in[static_cast<int64_t>(blockIdx.x) * blockDim.x + t];
  const int odd = __syncthreads_count(s[t] & 1);
  for (unsigned stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (t < static_cast<int>(stride)) s[t] += s[t + stride];
    __syncthreads();
  }
  if (t == 0) {
    sums[blockIdx.x] = s[0];
    odd_counts[blockIdx.x] = odd;
  }
}

// ---- deliberately broken kernels ---------------------------------------------------------------

__global__ void early_exit_barrier_kernel(float* out) {  // threads 0..15 skip the barrier
  if (threadIdx.x < 16) return;
  __syncthreads();
  out[threadIdx.x] = 1.0f;
}

__global__ void uneven_loop_barrier_kernel(float* out) {  // trip counts differ across threads
  for (unsigned i = 0; i < threadIdx.x % 3; ++i) __syncthreads();
  out[threadIdx.x] = 1.0f;
}

__global__ void missing_lane_shuffle_kernel(float* out) {  // lane 5 leaves before the shuffle
  if (threadIdx.x % kWarpSize == 5) return;
  out[threadIdx.x] = warp_reduce_sum(1.0f);
}

__global__ void missing_barrier_kernel(float* out) {  // thread 0 writes, all read, no __syncthreads
  STEPRL_DYNAMIC_SHARED(float, slot);
  if (threadIdx.x == 0) slot[0] = 42.0f;
  out[blockIdx.x * blockDim.x + threadIdx.x] = slot[0];  // right only if thread 0 happened to run first
}

__global__ void stale_shared_kernel(float* out) {  // only block 0 writes its shared memory
  STEPRL_DYNAMIC_SHARED(float, tile);
  if (blockIdx.x == 0) tile[threadIdx.x] = 1.0f;
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = tile[threadIdx.x];
}

__global__ void oob_write_kernel(float* out, int64_t index) { out[index] = 1.0f; }

__global__ void oob_read_kernel(float* out, const float* in, int64_t index) { out[0] = in[index]; }

__global__ void oob_shared_kernel(float* out, int n) {
  STEPRL_DYNAMIC_SHARED(float, tile);
  tile[n + threadIdx.x] = 1.0f;  // past the launch's n floats of dynamic shared memory
  __syncthreads();
  out[threadIdx.x] = tile[threadIdx.x];
}

// ---- launch limits the simulator build learns from the source pass (cuda/sim/rewrite.mjs) ---------

// At most 64 threads per block: a launch with more is refused, as on a GPU.
__global__ void __launch_bounds__(64) bounded_kernel(int* out) {
  out[blockIdx.x * blockDim.x + threadIdx.x] = 1;
}

// Each thread reports the bits it finds in its static shared cell before writing it: a block that
// inherited the previous block's cells (same OS thread, same thread_local array) reports 1.0f.
__global__ void static_shared_garbage_kernel(unsigned* bits) {
  __shared__ float cells[64];
  bits[blockIdx.x * blockDim.x + threadIdx.x] = __float_as_uint(cells[threadIdx.x]);
  cells[threadIdx.x] = 1.0f;
}

// 32 KiB of static shared memory next to the launch's dynamic shared memory.
constexpr int kBigStaticFloats = 8192;
__global__ void big_static_shared_kernel(float* out) {
  __shared__ float big[kBigStaticFloats];
  STEPRL_DYNAMIC_SHARED(float, extra);
  big[threadIdx.x] = static_cast<float>(threadIdx.x);
  extra[threadIdx.x] = 2.0f;
  __syncthreads();
  if (threadIdx.x == 0) out[blockIdx.x] = big[1] + extra[0];
}

// ---- log-sum-exp, shuffles, bf16, vector loads ----------------------------------------------------

__global__ void logsumexp_block_kernel(float* out, const float* logits, int64_t V) {
  const float* row = logits + static_cast<int64_t>(blockIdx.x) * V;
  LogSumExp state = lse_identity();
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x) state = lse_add(state, row[v]);
  state = block_reduce_lse(state);
  if (threadIdx.x == 0) out[blockIdx.x] = lse_value(state);
}

__global__ void logsumexp_warp_kernel(float* out, const float* logits, int64_t R, int64_t V) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kWarpSize) + threadIdx.x / kWarpSize;
  if (row >= R) return;
  LogSumExp state = lse_identity();
  for (int64_t v = threadIdx.x % kWarpSize; v < V; v += kWarpSize) state = lse_add(state, logits[row * V + v]);
  state = warp_reduce_lse(state);
  if (threadIdx.x % kWarpSize == 0) out[row] = lse_value(state);
}

// Per thread: [down 1 width 8, up 3 width 16, broadcast lane 7, xor 2 width 4, ballot, any, all].
__global__ void shuffle_kernel(int* out) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int v = static_cast<int>(t) * 10;
  out[t * 7 + 0] = __shfl_down_sync(kFullMask, v, 1, 8);
  out[t * 7 + 1] = __shfl_up_sync(kFullMask, v, 3, 16);
  out[t * 7 + 2] = __shfl_sync(kFullMask, v, 7);
  out[t * 7 + 3] = __shfl_xor_sync(kFullMask, v, 2, 4);
  out[t * 7 + 4] = static_cast<int>(__ballot_sync(kFullMask, lane % 3 == 0));
  out[t * 7 + 5] = __any_sync(kFullMask, lane == 31);
  out[t * 7 + 6] = __all_sync(kFullMask, lane < 31);
}

__global__ void bf16_kernel(float* out, __nv_bfloat16* packed, const float* in, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const __nv_bfloat16 h = __float2bfloat16(in[i]);
  packed[i] = h;
  out[i] = __bfloat162float(h);
}

// Sums groups of 4 floats and 4 ints through 16-byte loads; `offset` (in elements) may misalign.
__global__ void vector_load_kernel(float* out, const float* f, const int* k, const unsigned* u, int64_t offset) {
  const int64_t i = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * 4;
  const float4 a = load_float4(f + i + offset);
  const int4 b = load_int4(k + i);
  const uint4 c = load_uint4(u + i);
  store_float4(out + i, make_float4(a.x + b.x + c.x, a.y + b.y + c.y, a.z + b.z + c.z, a.w + b.w + c.w));
}

// One element per thread, one block reduction per block: the timing workload.
__global__ void block_sum_kernel(float* sums, const float* in) {
  const float v = in[static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x];
  const float s = block_reduce_sum(v);
  if (threadIdx.x == 0) sums[blockIdx.x] = s;
}

}  // namespace selftest
