// linear_policy_loss.h: the clipped policy loss straight from hidden states and the output
// projection, in one pass over the vocabulary (bench/rl_step_profile.md, "One-pass loss").
//
// linearTokenLogprobs followed by linearTokenLogprobsBackward computes every logit twice. Here each
// block of token rows holds its logits over the whole vocabulary ([rows, V + chunks] floats, never
// [N, V]), so they are computed once:
//   per block: tiles of z = h . W^T by vocabulary chunks (the sgemm), the row log-sum-exp merged
//   over the chunks, ℓ = z[target]/tau - logZ;  the policy-loss rows kernel gives dℓ for the block's
//   tokens (the aggregation weights c_i depend only on the mask: computed for the batch first);
//   the token_logprobs backward rows turn each tile into dlogits in place;  dh += dz . W_chunk,
//   dW_chunk += dz^T . h.
// Only the loss modes whose dℓ is element-wise run here (clip with its DAPO/Dr.GRPO settings, cispo):
// gspo's gradient needs a whole sequence's ratio.
// Every piece is the two-pass path's own (cpu/linear_tiles.h, cpu/policy_loss.h): with one block
// per call (N <= block rows, and N <= kLinearRowBlock) the results are bit-identical to it; across
// blocks dweight and dhidden sum in another order (rounding only). Bit-identical for a fixed block
// size on any thread count.
#pragma once

#include <cstdint>

#include "../../include/steprl/linear_logprobs.h"
#include "../../include/steprl/policy_loss.h"

namespace steprl::cpu {

using ::steprl::LinearPolicyLossOutputs;  // include/steprl/linear_logprobs.h

// `loss` holds the per-token inputs as [R,T] with R*T == lin.N (its logprobs and dlogprobs are
// ignored: out's are used); block_rows >= 1 token rows per block.
PolicyLossResult linear_policy_loss_cpu(const LinearLogprobsArgs& lin, const PolicyLossArgs& loss, int64_t block_rows,
                                        const LinearPolicyLossOutputs& out);

}  // namespace steprl::cpu
