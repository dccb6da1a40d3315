// rmsnorm.cu: RMSNorm forward and backward (cuda/rmsnorm.h; the CPU statement is
// native/cpu/rmsnorm.cc, HF LlamaRMSNorm in fp32):
//   forward   one block per row: sum of x^2 (16-byte loads, fp32 FMA chain per thread, one block
//             reduction), rstd = 1/sqrt(sum/C + eps), then y = x * rstd * w over the row again
//             (an L1/L2 hit: a row is at most a few tens of KB);
//   backward  one block per row: dot = sum g w x (block reduction), dx += r w g + k x with
//             k = -dot r^3 / C; then dweight += column sums of g x r by cuda/column_sum.cuh
//             (fixed row chunks, summed in order: no atomics, the same bits on every run).
// The forward may also (or instead) write its output rounded to bf16 (rmsnorm_forward_bf16_cuda: the
// input of a bf16 GEMM under TinyLM's 'bf16-mixed', 2NC bytes written instead of 4NC, and no cast
// pass). Rows take the 16-byte path when the tensors are 16-byte aligned and C % 4 == 0 (bf16
// rows then store 8 bytes per 4 elements), else one element per thread. inp may be out (in
// place): it is then read with ordinary loads, not ld.nc.
// Bytes (H100, 3.35 TB/s): forward 8NC + 4C + 4N (x read once from HBM, y written), about
// 2.4 us per MB of activations; backward 12NC (g, x read; dx read and written) + 8NC for the
// dweight pass that reads g and x again (an unfused second pass: simpler, deterministic; a fused
// per-chunk partial would save that third of the traffic). ~10 instructions per element against
// the ~200 an SM can issue per 16 bytes at full bandwidth: both memory-bound, expected ~80% of
// HBM bandwidth once N * C fills the GPU (N >= ~4 rows per SM).
#include "rmsnorm.h"

#include "bf16_bits.cuh"
#include "column_sum.cuh"
#include "common.cuh"
#include "device.h"

namespace steprl::cuda {
namespace {

constexpr int kMaxThreads = 256;

// A 16-byte load through the coherent path, for tensors the kernel may also write (in place).
__device__ __forceinline__ float4 load_float4_coherent(const float* p) {
  STEPRL_CHECK_ALIGNED_16(p);
  return *reinterpret_cast<const float4*>(p);
}

// kF32 / kBf16: which outputs it writes: out (float32) and/or out_bf16 (the same values rounded to
// bf16 by cuda/bf16_bits.cuh, i.e. the bits of out followed by ops.cast).
template <bool kVec, bool kF32, bool kBf16>
__global__ void __launch_bounds__(kMaxThreads)
rmsnorm_forward_kernel(float* out, uint16_t* out_bf16, float* rstd,  // [N,C], [N,C], [N]
                       const float* inp, const float* weight,        // [N,C], [C]
                       int64_t N, int64_t C, float eps) {
  const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
  for (int64_t row = blockIdx.x; row < N; row += gridDim.x) {
    const float* x = inp + row * C;
    float* y = kF32 ? out + row * C : nullptr;
    uint16_t* yb = kBf16 ? out_bf16 + row * C : nullptr;
    float sum = 0.0f;
    if constexpr (kVec) {
      for (int64_t v = tid; v < C / 4; v += threads) {
        const float4 a = load_float4_coherent(x + 4 * v);
        sum = fmaf(a.x, a.x, sum);
        sum = fmaf(a.y, a.y, sum);
        sum = fmaf(a.z, a.z, sum);
        sum = fmaf(a.w, a.w, sum);
      }
    } else {
      for (int64_t c = tid; c < C; c += threads) sum = fmaf(x[c], x[c], sum);
    }
    sum = block_reduce_sum(sum);
    const float r = 1.0f / sqrtf(sum / static_cast<float>(C) + eps);
    if (tid == 0) rstd[row] = r;
    if constexpr (kVec) {
      for (int64_t v = tid; v < C / 4; v += threads) {
        const float4 a = load_float4_coherent(x + 4 * v), w = load_float4(weight + 4 * v);
        const float4 o = make_float4(a.x * r * w.x, a.y * r * w.y, a.z * r * w.z, a.w * r * w.w);
        if constexpr (kF32) store_float4(y + 4 * v, o);
        if constexpr (kBf16) store_bf16x4(yb + 4 * v, o);
      }
    } else {
      for (int64_t c = tid; c < C; c += threads) {
        const float o = x[c] * r * __ldg(weight + c);
        if constexpr (kF32) y[c] = o;
        if constexpr (kBf16) yb[c] = narrow(o);
      }
    }
  }
}

template <bool kVec>
__global__ void __launch_bounds__(kMaxThreads)
rmsnorm_backward_kernel(float* dinp,                                   // [N,C] +=
                        const float* dout, const float* inp,           // [N,C] each
                        const float* weight, const float* rstd,        // [C], [N]
                        int64_t N, int64_t C) {
  const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
  for (int64_t row = blockIdx.x; row < N; row += gridDim.x) {
    const float* x = inp + row * C;
    const float* g = dout + row * C;
    float* dx = dinp + row * C;
    const float r = __ldg(rstd + row);
    float dot = 0.0f;  // sum_j g_j w_j x_j
    if constexpr (kVec) {
      for (int64_t v = tid; v < C / 4; v += threads) {
        const float4 gv = load_float4(g + 4 * v), wv = load_float4(weight + 4 * v), xv = load_float4(x + 4 * v);
        dot = fmaf(gv.x * wv.x, xv.x, dot);
        dot = fmaf(gv.y * wv.y, xv.y, dot);
        dot = fmaf(gv.z * wv.z, xv.z, dot);
        dot = fmaf(gv.w * wv.w, xv.w, dot);
      }
    } else {
      for (int64_t c = tid; c < C; c += threads) dot = fmaf(__ldg(g + c) * __ldg(weight + c), __ldg(x + c), dot);
    }
    dot = block_reduce_sum(dot);
    const float k = -dot * r * r * r / static_cast<float>(C);
    if constexpr (kVec) {
      for (int64_t v = tid; v < C / 4; v += threads) {
        const float4 gv = load_float4(g + 4 * v), wv = load_float4(weight + 4 * v), xv = load_float4(x + 4 * v);
        const float4 d = load_float4_coherent(dx + 4 * v);
        store_float4(dx + 4 * v, make_float4(d.x + fmaf(r * wv.x, gv.x, k * xv.x), d.y + fmaf(r * wv.y, gv.y, k * xv.y),
                                             d.z + fmaf(r * wv.z, gv.z, k * xv.z), d.w + fmaf(r * wv.w, gv.w, k * xv.w)));
      }
    } else {
      for (int64_t c = tid; c < C; c += threads) dx[c] += fmaf(r * __ldg(weight + c), __ldg(g + c), k * __ldg(x + c));
    }
  }
}

// dweight term: (g * x) * rstd, as the CPU forms it.
struct DweightTerm {
  const float* dout;  // [N,C]
  const float* inp;   // [N,C]
  const float* rstd;  // [N]
  int64_t C;
  __device__ __forceinline__ float4 vec(int64_t n, int64_t c) const {
    const float4 g = load_float4(dout + n * C + c), x = load_float4(inp + n * C + c);
    const float r = __ldg(rstd + n);
    return make_float4(g.x * x.x * r, g.y * x.y * r, g.z * x.z * r, g.w * x.w * r);
  }
  __device__ __forceinline__ float one(int64_t n, int64_t c) const {
    return __ldg(dout + n * C + c) * __ldg(inp + n * C + c) * __ldg(rstd + n);
  }
};

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

// Threads per row: enough for about four elements (or vectors) each, 32 to 256.
int threads_for(int64_t units) {
  int threads = 32;
  while (threads < kMaxThreads && threads * int64_t{4} < units) threads *= 2;
  return threads;
}

unsigned rows_grid(int64_t N) { return static_cast<unsigned>(N < (int64_t{1} << 30) ? N : (int64_t{1} << 30)); }

template <bool kF32, bool kBf16>
void launch_forward(const RmsnormForwardArgs& a, uint16_t* out_bf16) {
  if (a.N <= 0) return;
  const bool vec = a.C % 4 == 0 && (!kF32 || aligned16(a.out)) && (!kBf16 || aligned16(out_bf16)) && aligned16(a.inp) &&
                   aligned16(a.weight);
  if (vec) {
    STEPRL_LAUNCH((rmsnorm_forward_kernel<true, kF32, kBf16>), rows_grid(a.N), threads_for(a.C / 4), 0, stream(), a.out,
                  out_bf16, a.rstd, a.inp, a.weight, a.N, a.C, a.eps);
  } else {
    STEPRL_LAUNCH((rmsnorm_forward_kernel<false, kF32, kBf16>), rows_grid(a.N), threads_for(a.C), 0, stream(), a.out,
                  out_bf16, a.rstd, a.inp, a.weight, a.N, a.C, a.eps);
  }
}

}  // namespace

void rmsnorm_forward_cuda(const RmsnormForwardArgs& a) { launch_forward<true, false>(a, nullptr); }

void rmsnorm_forward_bf16_cuda(const RmsnormForwardArgs& a, uint16_t* out_bf16) {
  if (a.out != nullptr) launch_forward<true, true>(a, out_bf16);
  else launch_forward<false, true>(a, out_bf16);
}

void rmsnorm_backward_cuda(const RmsnormBackwardArgs& a) {
  if (a.N <= 0 || a.C <= 0) return;
  const bool vec = a.C % 4 == 0 && aligned16(a.dinp) && aligned16(a.dout) && aligned16(a.inp) && aligned16(a.weight);
  if (vec) {
    STEPRL_LAUNCH((rmsnorm_backward_kernel<true>), rows_grid(a.N), threads_for(a.C / 4), 0, stream(), a.dinp, a.dout,
                  a.inp, a.weight, a.rstd, a.N, a.C);
  } else {
    STEPRL_LAUNCH((rmsnorm_backward_kernel<false>), rows_grid(a.N), threads_for(a.C), 0, stream(), a.dinp, a.dout,
                  a.inp, a.weight, a.rstd, a.N, a.C);
  }
  const bool term_vec = a.C % 4 == 0 && aligned16(a.dout) && aligned16(a.inp);
  column_sum::add_column_sums(a.dweight, DweightTerm{a.dout, a.inp, a.rstd, a.C}, a.N, a.C, term_vec);
}

}  // namespace steprl::cuda
