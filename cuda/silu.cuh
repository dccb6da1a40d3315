// silu.cuh: silu(g) * u as cuda/swiglu.cu and the SwiGLU epilogue of cuda/gemm_bf16.cu compute
// it (one statement, so the fused epilogue has exactly the bits of the swiglu kernel): g / (1 +
// e^-g) * u with expf (<= 2 ulp), the CPU's formula (native/cpu/swiglu.cc).
#pragma once

#include "common.cuh"

namespace steprl::cuda {

__device__ __forceinline__ float silu_forward(float g, float u) { return g / (1.0f + expf(-g)) * u; }

}  // namespace steprl::cuda
