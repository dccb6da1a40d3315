// matmul_bias.h: what the linear layer adds around sgemm (matmul.h).
//   Forward  out[N,OC] = inp[N,C] . weight[OC,C]^T + bias[OC] + residual[N,OC]
//            = sgemm(beta = 1) over out pre-filled with bias + residual (or beta = 0 without
//              either, or beta = 1 alone when residual is out itself: accumulation).
//   Backward dinp += dout . weight, dweight += dout^T . inp (sgemm, beta = 1),
//            dbias[OC] += column sums of dout: fp32 partials over fixed chunks of rows, combined
//            in chunk order (deterministic for any thread count).
#pragma once

#include <cstdint>

namespace steprl::cpu {

// out[n,:] = bias (or 0) + residual[n,:] (or 0); residual may not alias out.
void matmul_prefill_cpu(float* out, const float* bias, const float* residual, int64_t N, int64_t OC);
// out += bias in every row (residual == out with a bias).
void matmul_add_bias_cpu(float* out, const float* bias, int64_t N, int64_t OC);
void matmul_dbias_cpu(float* dbias /* [OC] += */, const float* dout /* [N,OC] */, int64_t N, int64_t OC);

void matmul_forward_cpu(float* out, const float* inp, const float* weight, const float* bias, const float* residual,
                        int64_t N, int64_t C, int64_t OC);
void matmul_backward_cpu(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                         const float* weight, int64_t N, int64_t C, int64_t OC);

constexpr int64_t kDbiasRowsPerTask = 256;

}  // namespace steprl::cpu
