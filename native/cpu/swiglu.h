// swiglu.h: the SwiGLU gate of Llama's MLP (HF LlamaMLP: down_proj(act_fn(gate_proj(x)) * up_proj(x))
// with act_fn = SiLU), on one stacked projection: inp [N, 2F] holds gate = inp[:, :F] and
// up = inp[:, F:].
//   out = silu(gate) * up,   silu(g) = g * s,  s = sigmoid(g) = 1 / (1 + e^-g)
// Backward (written, not accumulated): dgate = dout * up * s * (1 + g * (1 - s)),
//                                       dup   = dout * silu(g)
#pragma once

#include <cstdint>

namespace steprl::cpu {

void swiglu_forward_cpu(float* out /* [N,F] */, const float* inp /* [N,2F] */, int64_t N, int64_t F);
void swiglu_backward_cpu(float* dinp /* [N,2F] */, const float* dout /* [N,F] */, const float* inp /* [N,2F] */,
                         int64_t N, int64_t F);

// One implementation per instruction set, over rows [begin, end).
using SwigluForwardRows = void (*)(float* out, const float* inp, int64_t F, int64_t begin, int64_t end);
using SwigluBackwardRows = void (*)(float* dinp, const float* dout, const float* inp, int64_t F, int64_t begin,
                                    int64_t end);
void swiglu_forward_rows_scalar(float* out, const float* inp, int64_t F, int64_t begin, int64_t end);
void swiglu_forward_rows_avx2(float* out, const float* inp, int64_t F, int64_t begin, int64_t end);
void swiglu_forward_rows_avx512(float* out, const float* inp, int64_t F, int64_t begin, int64_t end);
void swiglu_backward_rows_scalar(float* dinp, const float* dout, const float* inp, int64_t F, int64_t begin, int64_t end);
void swiglu_backward_rows_avx2(float* dinp, const float* dout, const float* inp, int64_t F, int64_t begin, int64_t end);
void swiglu_backward_rows_avx512(float* dinp, const float* dout, const float* inp, int64_t F, int64_t begin, int64_t end);

}  // namespace steprl::cpu
