// linear_logprobs.h: launchers of the fused output projection + token log-probs on CUDA
// (cuda/linear_logprobs.cu), callable from host code that includes no CUDA header
// (native/ops/linear_logprobs.cc). Semantics of native/cpu/linear_logprobs.h:
//   z = h[rows] . W^T, y = z/tau: logprob = y[target] - logsumexp(y), H = -sum p log p;
//   backward: dhidden[rows] += dz . W, dweight += dz^T . h   (dweight optional)
// One [rows, chunk] tile of logits exists at a time (device scratch); the tile's GEMMs are the
// launchers of cuda/matmul.h. Every element is summed in one fixed order (no atomics): the same
// bits on every run. The launchers only queue kernels on cuda::stream().
#pragma once

#include <cstdint>

#include "../include/steprl/linear_logprobs.h"
#include "../include/steprl/policy_loss.h"

namespace steprl::cuda {

void linear_logprobs_forward_cuda(const LinearLogprobsArgs& args, const LinearLogprobsOutputs& out);
void linear_logprobs_backward_cuda(const LinearLogprobsArgs& args, const LinearLogprobsGrads& grads);
// The one-pass lm_head + policy loss (native/cpu/linear_policy_loss.h's semantics; loss.mode clip
// or cispo): per block of block_rows tokens the tiles of every vocabulary chunk stay in device
// scratch ([block_rows, V] floats) from the forward to the backward, so each logit is computed once.
// The launchers' kernels in the two-pass order: tiles, log-sum-exp merge, dℓ from policy_loss.cu's
// per-token code (policy_loss_rows.cuh), dlogits in place, the backward SGEMMs. The scalars come
// from policy_loss_cuda over the whole batch's ℓ (it waits for the stream). A mask value other than
// 0 or 1 throws ArgumentError before anything is written. out.dhidden is accumulated into.
PolicyLossResult linear_policy_loss_cuda(const LinearLogprobsArgs& args, const PolicyLossArgs& loss, int64_t block_rows,
                                         const LinearPolicyLossOutputs& out);
// Sets `count` floats to 0 (queued on the stream).
void fill_zero_cuda(float* data, int64_t count);

}  // namespace steprl::cuda
