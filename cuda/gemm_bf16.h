// gemm_bf16.h: launchers of the bf16 tensor-core linear-layer kernels (cuda/gemm_bf16.cu), callable
// from host code that includes no CUDA header (native/ops/matmul.cc). Same products as
// cuda/matmul.h, with bf16 inputs (raw bits, uint16_t) and fp32 accumulation and outputs:
//   forward   out[N,OC] = inp[N,C] . weight[OC,C]^T + bias[OC] + residual[N,OC]   (residual may be out)
//   backward  dinp[N,C] += dout[N,OC] . weight,  dweight[OC,C] += dout^T . inp,
//             dbias[OC] += column sums of dout                   (each gradient optional)
// bias, residual and the gradients are fp32. Every output element is summed in one fixed order
// (no atomics, no split-K): the same bits on every run. The launchers only queue kernels.
#pragma once

#include <cstdint>

namespace steprl::cuda {

struct MatmulBf16ForwardArgs {
  float* out;              // [N,OC]
  const uint16_t* inp;     // [N,C] bf16
  const uint16_t* weight;  // [OC,C] bf16
  const float* bias;       // [OC] or nullptr
  const float* residual;   // [N,OC] or nullptr; may be out itself (accumulate)
  int64_t N, C, OC;
};

struct MatmulBf16BackwardArgs {
  float* dinp;             // [N,C]  += , or nullptr
  float* dweight;          // [OC,C] += , or nullptr
  float* dbias;            // [OC]   += , or nullptr
  const uint16_t* dout;    // [N,OC] bf16
  const uint16_t* inp;     // [N,C] bf16
  const uint16_t* weight;  // [OC,C] bf16
  int64_t N, C, OC;
};

// Llama's gate/up projection with SwiGLU fused into its epilogue: gu [N,2F] = inp . weight^T
// (float32, [gate | up], kept for swiglu's backward), s [N,F] = bf16(silu(gate) * up) by the rule
// of include/steprl/cast.h: the bits of the forward GEMM, swiglu_forward_cuda and a cast.
struct MatmulBf16SwigluArgs {
  float* gu;               // [N,2F]
  uint16_t* s;             // [N,F] bf16
  const uint16_t* inp;     // [N,C] bf16
  const uint16_t* weight;  // [2F,C] bf16: gate rows, then up rows
  int64_t N, C, F;
};

void matmul_bf16_forward_cuda(const MatmulBf16ForwardArgs& args);
void matmul_bf16_swiglu_cuda(const MatmulBf16SwigluArgs& args);
void matmul_bf16_backward_cuda(const MatmulBf16BackwardArgs& args);

}  // namespace steprl::cuda
