// prm_score.cu: PRM solution scores from per-step probabilities (ALGORITHMS.md §2; the CPU
// statement is native/cpu/prm_score.cc), one thread per row over the ragged offsets:
//   product exp(Σ log max(p, 1e-12)) | geomean exp(mean log max(p, 1e-12)) | min p | last p_K,
//   in float64; a row without steps gets NaN.
// The offsets index into the scores, so each thread checks its row's pair before reading; the first
// decreasing pair and the first score outside [0, 1] are reported in the TypeScript layer's words
// (cuda/step_offsets.cuh, shared with weibull_reward and process_grpo_advantage).
// Rows are a few steps long: latency-bound (one launch); a thread's reads are contiguous.
#include "prm_score.h"

#include "step_offsets.cuh"

namespace steprl::cuda {
namespace {


__global__ void __launch_bounds__(kStepRowThreads)
prm_score_kernel(float* scores,                                   // [R]
                 const float* step_scores, const int32_t* offsets,  // [S], [R+1]
                 int64_t R, int64_t S, StepAggregate aggregate, unsigned long long* bad_offset,
                 unsigned long long* bad_score) {
  for_each_scored_row(step_scores, offsets, R, S, bad_offset, bad_score, [&](int64_t i, const float* p, int64_t K) {
    double score = NAN;
    if (K > 0 && aggregate == StepAggregate::min) {
      score = p[0];
      for (int64_t k = 1; k < K; ++k) score = fmin(score, static_cast<double>(p[k]));
    } else if (K > 0 && aggregate == StepAggregate::last) {
      score = p[K - 1];
    } else if (K > 0) {
      double log_sum = 0.0;
      for (int64_t k = 0; k < K; ++k) log_sum += log(fmax(static_cast<double>(p[k]), kStepScoreFloor));
      score = exp(aggregate == StepAggregate::geomean ? log_sum * __drcp_rn(static_cast<double>(K)) : log_sum);
    }
    scores[i] = static_cast<float>(score);
  });
}

}  // namespace

void prm_score_cuda(const PrmScoreArgs& a) {
  run_scored_rows(a.step_scores, a.step_offsets, a.R, a.S, [&](unsigned long long* bad_offset, unsigned long long* bad_score) {
    STEPRL_LAUNCH(prm_score_kernel, step_row_blocks(a.R), kStepRowThreads, 0, stream(), a.scores, a.step_scores,
                  a.step_offsets, a.R, a.S, a.aggregate, bad_offset, bad_score);
  });
}

}  // namespace steprl::cuda
