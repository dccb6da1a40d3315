// swiglu.cu: the SwiGLU gate of Llama's MLP, forward and backward (cuda/swiglu.h; the CPU
// statement is native/cpu/swiglu.cc). Element-wise over [N, F]: blockIdx.y walks rows, x-threads
// walk the columns of a row, four at a time with 16-byte loads of gate and up (and dout) and
// 16-byte stores when every row is 16-byte aligned (F % 4 == 0, aligned bases), else one at a
// time. sigmoid uses expf (<= 2 ulp), silu(g) = g / (1 + e^-g) as the CPU writes it (the forward's
// product is cuda/silu.cuh, shared with the SwiGLU epilogue of cuda/gemm_bf16.cu).
// The forward may write its output in bf16 instead (swiglu_forward_bf16_cuda: the input of the down
// GEMM under TinyLM's 'bf16-mixed'; 8-byte stores of 4 bf16 on the 16-byte path; 10NF bytes, no
// cast pass after it).
// Bytes (H100, 3.35 TB/s): forward 12NF (gate, up in; out), backward 20NF (gate, up, dout in;
// dgate, dup out); ~15 instructions per element: memory-bound, expected ~85% of HBM bandwidth.
#include "swiglu.h"

#include <type_traits>

#include "bf16_bits.cuh"
#include "common.cuh"
#include "device.h"
#include "silu.cuh"

namespace steprl::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ void silu_backward(float g, float u, float d, float* dg, float* du) {
  const float s = 1.0f / (1.0f + expf(-g));
  *dg = d * u * s * (1.0f + g * (1.0f - s));
  *du = d * g * s;
}

// Out is float (the float32 output) or uint16_t (bf16: the float32 product rounded by
// cuda/bf16_bits.cuh, the bits of the float32 output followed by ops.cast).
template <bool kVec, typename Out>
__global__ void __launch_bounds__(kThreads)
swiglu_forward_kernel(Out* out, const float* inp, int64_t N, int64_t F) {  // [N,F], [N,2F]
  constexpr int kWidth = kVec ? 4 : 1;
  const int64_t stride = int64_t{gridDim.x} * blockDim.x * kWidth;
  const int64_t first = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) * kWidth;
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    const float* gate = inp + n * 2 * F;
    const float* up = gate + F;
    Out* y = out + n * F;
    for (int64_t f = first; f < F; f += stride) {
      if constexpr (kVec) {
        const float4 g = load_float4(gate + f), u = load_float4(up + f);
        const float4 o = make_float4(silu_forward(g.x, u.x), silu_forward(g.y, u.y), silu_forward(g.z, u.z), silu_forward(g.w, u.w));
        if constexpr (std::is_same_v<Out, float>) store_float4(y + f, o);
        else store_bf16x4(y + f, o);
      } else {
        const float o = silu_forward(__ldg(gate + f), __ldg(up + f));
        if constexpr (std::is_same_v<Out, float>) y[f] = o;
        else y[f] = narrow(o);
      }
    }
  }
}

template <bool kVec>
__global__ void __launch_bounds__(kThreads)
swiglu_backward_kernel(float* dinp, const float* dout, const float* inp, int64_t N, int64_t F) {  // [N,2F], [N,F], [N,2F]
  constexpr int kWidth = kVec ? 4 : 1;
  const int64_t stride = int64_t{gridDim.x} * blockDim.x * kWidth;
  const int64_t first = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) * kWidth;
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    const float* gate = inp + n * 2 * F;
    const float* up = gate + F;
    const float* d = dout + n * F;
    float* dgate = dinp + n * 2 * F;
    float* dup = dgate + F;
    for (int64_t f = first; f < F; f += stride) {
      if constexpr (kVec) {
        const float4 g = load_float4(gate + f), u = load_float4(up + f), dv = load_float4(d + f);
        float4 a, b;
        silu_backward(g.x, u.x, dv.x, &a.x, &b.x);
        silu_backward(g.y, u.y, dv.y, &a.y, &b.y);
        silu_backward(g.z, u.z, dv.z, &a.z, &b.z);
        silu_backward(g.w, u.w, dv.w, &a.w, &b.w);
        store_float4(dgate + f, a);
        store_float4(dup + f, b);
      } else {
        silu_backward(__ldg(gate + f), __ldg(up + f), __ldg(d + f), dgate + f, dup + f);
      }
    }
  }
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

// Threads per block: a row's units (vectors or elements) rounded up to a warp multiple, <= 256.
int threads_for(int64_t units) {
  const int64_t warps = ceil_div(units, kWarpSize);
  return static_cast<int>(warps * kWarpSize < kThreads ? warps * kWarpSize : kThreads);
}

// x-blocks cover a row (capped: long rows loop), y-blocks walk rows (capped at 65535: the rest loop).
dim3 grid_for(int64_t N, int64_t units) {
  const int64_t x = ceil_div(units, threads_for(units));
  return dim3(static_cast<unsigned>(x < 64 ? x : 64), static_cast<unsigned>(N < 65535 ? N : 65535));
}

template <typename Out>
void launch_forward(Out* out, const float* inp, int64_t N, int64_t F) {
  if (N <= 0 || F <= 0) return;
  if (F % 4 == 0 && aligned16(out) && aligned16(inp))
    STEPRL_LAUNCH((swiglu_forward_kernel<true, Out>), grid_for(N, F / 4), threads_for(F / 4), 0, stream(), out, inp, N, F);
  else
    STEPRL_LAUNCH((swiglu_forward_kernel<false, Out>), grid_for(N, F), threads_for(F), 0, stream(), out, inp, N, F);
}

}  // namespace

void swiglu_forward_cuda(float* out, const float* inp, int64_t N, int64_t F) { launch_forward(out, inp, N, F); }

void swiglu_forward_bf16_cuda(uint16_t* out, const float* inp, int64_t N, int64_t F) { launch_forward(out, inp, N, F); }

void swiglu_backward_cuda(float* dinp, const float* dout, const float* inp, int64_t N, int64_t F) {
  if (N <= 0 || F <= 0) return;
  if (F % 4 == 0 && aligned16(dinp) && aligned16(dout) && aligned16(inp))
    STEPRL_LAUNCH((swiglu_backward_kernel<true>), grid_for(N, F / 4), threads_for(F / 4), 0, stream(), dinp, dout, inp, N, F);
  else
    STEPRL_LAUNCH((swiglu_backward_kernel<false>), grid_for(N, F), threads_for(F), 0, stream(), dinp, dout, inp, N, F);
}

}  // namespace steprl::cuda
