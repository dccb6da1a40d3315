// linear_policy_loss.cc: the one-pass lm_head + policy loss (see linear_policy_loss.h), from the
// fused log-prob tiles (linear_tiles.h) and the policy-loss rows (policy_loss.h).
#include "linear_policy_loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "linear_tiles.h"
#include "policy_loss.h"
#include "scratch.h"

namespace steprl::cpu {

PolicyLossResult linear_policy_loss_cpu(const LinearLogprobsArgs& a, const PolicyLossArgs& loss, int64_t block_rows,
                                        const LinearPolicyLossOutputs& out) {
  using namespace linear_tiles;
  const int64_t R = loss.R, T = loss.T;
  PolicyLossArgs pl = loss;
  pl.logprobs = out.logprobs;
  pl.dlogprobs = out.dlogprobs;
  const std::vector<double> weights = policy_loss_row_weights(pl, R);
  const std::vector<float> weights_f(weights.begin(), weights.end());
  std::vector<PolicyLossRowSums> sums(static_cast<size_t>(R), PolicyLossRowSums{});
  if (a.N == 0) return policy_loss_combine(pl, weights.data(), sums.data(), R);
  const PolicyLossRowsKernel loss_rows = policy_loss_rows_kernel(pl.mode);

  const int64_t chunk = std::min(a.chunk, a.V), chunks = (a.V + chunk - 1) / chunk;
  const int64_t nb_max = std::min(a.N, block_rows);
  // The block's tiles, one after the other: chunk k at offset nb * (k * (chunk + 1)), [nb, vc + 1].
  // The block's logits tiles (nb_max * (V + chunks) floats: 268 MB at V=151936 and the default
  // 441-row block): scratch.h memory (the addon's host pool), not zero-filled (compute_tile writes
  // every element the call reads: its sgemm runs with beta = 0), reused by the next call.
  const ScratchFloats logits(static_cast<size_t>(nb_max * (a.V + chunks)));
  std::vector<float> gathered, dh_block, widened;
  std::vector<int32_t> local(static_cast<size_t>(nb_max * chunks));
  if (a.rows != nullptr) dh_block.resize(static_cast<size_t>(nb_max * a.C));
  ForwardMerge merge(nb_max, false);
  const LinearLogprobsOutputs fwd{out.logprobs, out.logz, nullptr};
  const LinearLogprobsGrads grads{out.logz, out.dlogprobs, nullptr, nullptr, out.dhidden, out.dweight};
  const size_t mask_bytes = pl.mask_u8 ? 1 : sizeof(float);

  for (int64_t b0 = 0; b0 < a.N; b0 += block_rows) {
    const int64_t nb = std::min(block_rows, a.N - b0);
    const float* h = block_hidden(a, b0, nb, gathered);
    auto tile = [&](int64_t k) { return logits.data() + nb * k * (chunk + 1); };
    // Forward: every chunk's tile, kept.
    merge.start(nb);
    for (int64_t k = 0; k < chunks; ++k) {
      const int64_t c0 = k * chunk, vc = std::min(chunk, a.V - c0);
      compute_tile(a, h, chunk_weight(a, c0, vc, widened), b0, nb, c0, vc, tile(k), local.data() + k * nb);
      merge.add_chunk(a, tile(k), local.data() + k * nb, nb, vc);
    }
    merge.finish(b0, nb, fwd);

    // dℓ of the block's tokens: the loss rows over each sequence's part in this block.
    for (int64_t r = b0 / T; r < R && r * T < b0 + nb; ++r) {
      const int64_t s0 = std::max(b0, r * T), s1 = std::min(b0 + nb, (r + 1) * T);
      PolicyLossArgs part = pl;
      part.logprobs = pl.logprobs + s0;
      part.old_logprobs = pl.old_logprobs + s0;
      part.ref_logprobs = pl.ref_logprobs != nullptr ? pl.ref_logprobs + s0 : nullptr;
      part.advantages = pl.advantages + s0;
      part.mask = static_cast<const char*>(pl.mask) + s0 * mask_bytes;
      part.dlogprobs = pl.dlogprobs + s0;
      part.T = s1 - s0;
      part.R = 1;
      PolicyLossRowSums s{};
      loss_rows(part, weights_f.data() + r, &s, 0, 1);
      PolicyLossRowSums& total = sums[static_cast<size_t>(r)];
      total.psi += s.psi;
      total.kl += s.kl;
      total.clipped += s.clipped;
      total.approx_kl += s.approx_kl;
      total.tokens += s.tokens;
    }

    // Backward from the kept tiles.
    float* dh = a.rows == nullptr ? out.dhidden + b0 * a.C : dh_block.data();
    if (a.rows != nullptr) std::fill(dh_block.begin(), dh_block.begin() + nb * a.C, 0.0f);
    for (int64_t k = 0; k < chunks; ++k) {
      const int64_t c0 = k * chunk, vc = std::min(chunk, a.V - c0);
      backward_chunk(a, grads, h, chunk_weight(a, c0, vc, widened), b0, nb, c0, vc, tile(k), local.data() + k * nb, dh);
    }
    if (a.rows != nullptr) scatter_rows(a, out.dhidden, dh_block.data(), b0, nb);
  }
  return policy_loss_combine(pl, weights.data(), sums.data(), R);
}

}  // namespace steprl::cpu
