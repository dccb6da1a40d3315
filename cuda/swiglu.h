// swiglu.h: launchers of the SwiGLU CUDA kernels (cuda/swiglu.cu), callable from host code that
// includes no CUDA header (native/ops/swiglu.cc). Semantics of native/cpu/swiglu.h:
//   inp [N, 2F] = [gate | up],  out = silu(gate) * up,  s = sigmoid(gate)
//   dgate = dout * up * s * (1 + gate * (1 - s)),  dup = dout * silu(gate)   (dinp WRITTEN)
#pragma once

#include <cstdint>

namespace steprl::cuda {

void swiglu_forward_cuda(float* out /* [N,F] */, const float* inp /* [N,2F] */, int64_t N, int64_t F);
// The forward writing out rounded to bfloat16 (include/steprl/cast.h's rule): out [N,F] bf16 bits.
void swiglu_forward_bf16_cuda(uint16_t* out /* [N,F] */, const float* inp /* [N,2F] */, int64_t N, int64_t F);
void swiglu_backward_cuda(float* dinp /* [N,2F] */, const float* dout /* [N,F] */, const float* inp /* [N,2F] */,
                          int64_t N, int64_t F);

}  // namespace steprl::cuda
