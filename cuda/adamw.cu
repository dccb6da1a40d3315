// adamw.cu: one AdamW step over flat buffers and the global gradient norm (cuda/adamw.h; the CPU
// statement is native/cpu/adamw.cc).
//   step  element-wise, grid-stride over 16-byte vectors of p, m, v, g (4 parameters per thread
//         per step); elements before the first 16-byte boundary and after the last whole vector go
//         one at a time, and every element does when the four buffers are not aligned alike. The
//         arithmetic is the CPU's, operation for operation, with __f*_rn intrinsics so that nvcc
//         fuses nothing into an FMA: the new p, m and v equal the CPU's bit for bit.
//   norm  fp64: blocks own fixed chunks of kChunk elements (thread-strided sums of squares, one
//         block reduction in a fixed tree), then one block adds the chunk partials the same way:
//         the result depends on n only, never on the GPU; read back to the host (one sync).
// Bytes (H100, 3.35 TB/s): step 28 bytes per parameter (p, m, v read and written, g read): 7.5 ms
// for 1B parameters, ~30 instructions per 28 bytes: memory-bound, expected ~85% of HBM bandwidth.
// Norm: 4 bytes per parameter read once; fp64 adds at 1/2 the fp32 rate of an H100 are far from
// the limit: memory-bound too.
#include "adamw.h"

#include <memory>

#include "common.cuh"
#include "device.h"

namespace steprl::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kChunk = int64_t{1} << 14;  // elements per norm partial (fixed: determinism)

__device__ __forceinline__ void adamw_one(float& p, float& m, float& v, float grad, const AdamwArgs& a) {
  const float g = __fmul_rn(grad, a.grad_scale);
  const float mi = __fadd_rn(__fmul_rn(a.beta1, m), __fmul_rn(a.one_minus_beta1, g));
  const float vi = __fadd_rn(__fmul_rn(a.beta2, v), __fmul_rn(a.one_minus_beta2, __fmul_rn(g, g)));
  m = mi;
  v = vi;
  const float denominator = __fadd_rn(__fmul_rn(__fsqrt_rn(vi), a.inv_bias2_sqrt), a.eps);
  p = __fsub_rn(__fmul_rn(p, a.decay), __fdiv_rn(__fmul_rn(a.step_size, mi), denominator));
}

__device__ __forceinline__ int64_t misalignment(const void* p) { return static_cast<int64_t>(reinterpret_cast<std::uintptr_t>(p) % 16); }

__global__ void __launch_bounds__(kThreads)
adamw_kernel(float* params, float* m, float* v, const float* grads, int64_t n, AdamwArgs a) {  // [n] each
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  const int64_t first = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const int64_t offset = misalignment(params);
  const bool vectors = misalignment(m) == offset && misalignment(v) == offset && misalignment(grads) == offset;
  int64_t head = vectors ? (16 - offset) % 16 / 4 : n;
  head = head < n ? head : n;
  for (int64_t i = first; i < head; i += stride) adamw_one(params[i], m[i], v[i], grads[i], a);
  const int64_t count = (n - head) / 4;
  for (int64_t q = first; q < count; q += stride) {
    const int64_t i = head + 4 * q;
    STEPRL_CHECK_ALIGNED_16(params + i);
    STEPRL_CHECK_ALIGNED_16(m + i);
    STEPRL_CHECK_ALIGNED_16(v + i);
    float4 p4 = *reinterpret_cast<const float4*>(params + i), m4 = *reinterpret_cast<const float4*>(m + i);
    float4 v4 = *reinterpret_cast<const float4*>(v + i);
    const float4 g4 = load_float4(grads + i);
    adamw_one(p4.x, m4.x, v4.x, g4.x, a);
    adamw_one(p4.y, m4.y, v4.y, g4.y, a);
    adamw_one(p4.z, m4.z, v4.z, g4.z, a);
    adamw_one(p4.w, m4.w, v4.w, g4.w, a);
    store_float4(params + i, p4);
    store_float4(m + i, m4);
    store_float4(v + i, v4);
  }
  for (int64_t i = head + 4 * count + first; i < n; i += stride) adamw_one(params[i], m[i], v[i], grads[i], a);
}

// partial[chunk] = sum of grads[i]^2 over the chunk, in double.
__global__ void __launch_bounds__(kThreads)
grad_norm_partial_kernel(double* partial, const float* grads, int64_t n) {  // [chunks], [n]
  const int64_t lo = int64_t{blockIdx.x} * kChunk, hi = lo + kChunk < n ? lo + kChunk : n;
  const int tid = static_cast<int>(threadIdx.x);
  double sum = 0.0;
  // 16-byte loads when the chunk starts 16-byte aligned (kChunk is a multiple of 4, so all do
  // when grads does); the tail of the last chunk one at a time.
  const bool vectors = misalignment(grads) == 0;
  int64_t i = lo;
  if (vectors) {
    const int64_t count = (hi - lo) / 4;
    for (int64_t q = tid; q < count; q += kThreads) {
      const float4 g = load_float4(grads + lo + 4 * q);
      sum += static_cast<double>(g.x) * g.x;
      sum += static_cast<double>(g.y) * g.y;
      sum += static_cast<double>(g.z) * g.z;
      sum += static_cast<double>(g.w) * g.w;
    }
    i = lo + 4 * count;
  }
  for (int64_t j = i + tid; j < hi; j += kThreads) sum += static_cast<double>(__ldg(grads + j)) * __ldg(grads + j);
  sum = block_reduce_sum(sum);
  if (tid == 0) partial[blockIdx.x] = sum;
}

__global__ void __launch_bounds__(kThreads) grad_norm_finish_kernel(double* out, const double* partial, int64_t chunks) {
  double sum = 0.0;
  for (int64_t c = threadIdx.x; c < chunks; c += kThreads) sum += partial[c];
  sum = block_reduce_sum(sum);
  if (threadIdx.x == 0) out[0] = __dsqrt_rn(sum);
}

}  // namespace

void adamw_step_cuda(const AdamwArgs& args, int64_t n) {
  if (n <= 0) return;
  const int64_t blocks = ceil_div(ceil_div(n, 4), kThreads);
  const unsigned grid = static_cast<unsigned>(blocks < 132 * 8 * 8 ? blocks : 132 * 8 * 8);
  STEPRL_LAUNCH(adamw_kernel, grid, kThreads, 0, stream(), args.params, args.m, args.v, args.grads, n, args);
}

double grad_norm_cuda(const float* grads, int64_t n) {
  if (n <= 0) return 0.0;
  const int64_t chunks = ceil_div(n, kChunk);
  if (chunks >= (int64_t{1} << 31))
    throw ArgumentError("grads", "Expected fewer than 2^45 elements for gradNorm on cuda but received " + std::to_string(n));
  const auto memory = allocate(static_cast<size_t>(chunks + 1) * sizeof(double));
  double* partial = memory->as<double>() + 1;
  STEPRL_LAUNCH(grad_norm_partial_kernel, static_cast<unsigned>(chunks), kThreads, 0, stream(), partial, grads, n);
  STEPRL_LAUNCH(grad_norm_finish_kernel, 1, kThreads, 0, stream(), memory->as<double>(), static_cast<const double*>(partial),
                chunks);
  double norm = 0.0;
  copy_to_host(&norm, memory->data(), sizeof norm);
  return norm;
}

}  // namespace steprl::cuda
