// linear_tiles.h: the pieces of the fused lm_head kernels (linear_logprobs.cc) that the one-pass
// policy loss (linear_policy_loss.cc) shares, so both compute the same logits tiles, log-sum-exp
// merge and dlogits with the same bits.
#pragma once

#include <cstdint>
#include <vector>

#include "../../include/steprl/linear_logprobs.h"

namespace steprl::cpu::linear_tiles {

// One row block's hidden rows, contiguous float32 [nb, C]: in place, or gathered through `rows`
// (and widened from bfloat16) into scratch.
const float* block_hidden(const LinearLogprobsArgs& a, int64_t b0, int64_t nb, std::vector<float>& scratch);

// Rows [c0, c0 + vc) of the weight as float32: in place, or widened from bfloat16 into scratch.
const float* chunk_weight(const LinearLogprobsArgs& a, int64_t c0, int64_t vc, std::vector<float>& scratch);

// The tile of logits for rows [b0, b0 + nb) and vocabulary [c0, c0 + vc) from the chunk's weight
// rows w: tile[i*(vc+1) + j] = z[b0+i, c0+j], column vc = -inf; local[i] = target - c0 when it lies
// in the chunk, else vc.
void compute_tile(const LinearLogprobsArgs& a, const float* h, const float* w, int64_t b0, int64_t nb, int64_t c0,
                  int64_t vc, float* tile, int32_t* local);

// The forward's per-row merge across vocabulary chunks (online log-sum-exp in double, and the
// softmax-weighted mean of y for the entropy).
class ForwardMerge {
 public:
  ForwardMerge(int64_t nb_max, bool entropy);
  void start(int64_t nb);
  // Folds in one chunk's tile [nb, vc+1] (compute_tile's layout).
  void add_chunk(const LinearLogprobsArgs& a, const float* tile, const int32_t* local, int64_t nb, int64_t vc);
  // Writes rows [b0, b0 + nb) of out.
  void finish(int64_t b0, int64_t nb, const LinearLogprobsOutputs& out) const;

 private:
  bool entropy_;
  std::vector<float> chunk_logz_, chunk_logprob_, chunk_entropy_, target_logit_;
  std::vector<double> merged_logz_, merged_mean_;
};

// One chunk of the backward: the tile (compute_tile's, rows [b0, b0 + nb)) becomes dlogits in place
// from the gradients' logZ, dlogprobs (and entropy terms) at b0, then dh [nb, C] += dz . w and, when
// g.dweight is given, dweight[c0 .. c0+vc) += dz^T . h.
void backward_chunk(const LinearLogprobsArgs& a, const LinearLogprobsGrads& g, const float* h, const float* w,
                    int64_t b0, int64_t nb, int64_t c0, int64_t vc, float* tile, const int32_t* local, float* dh);

// dhidden[rows[b0 + i]] += dh_block[i] for the block's gathered rows.
void scatter_rows(const LinearLogprobsArgs& a, float* dhidden, const float* dh_block, int64_t b0, int64_t nb);

}  // namespace steprl::cpu::linear_tiles
