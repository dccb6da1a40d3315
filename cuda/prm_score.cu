// prm_score.cu: PRM solution scores from per-step probabilities (ALGORITHMS.md §2; the CPU
// statement is native/cpu/prm_score.cc), one thread per row over the ragged offsets:
//   product exp(Σ log max(p, 1e-12)) | geomean exp(mean log max(p, 1e-12)) | min p | last p_K,
//   in float64; a row without steps gets NaN.
// The offsets index into the scores, so each thread checks its row's pair (0 <= o_i <= o_i+1 <= S)
// before reading; the first decreasing pair and the first score outside [0, 1] are reported
// through device error words, then in the TypeScript layer's words (as cuda/weibull_reward.cu).
// Rows are a few steps long: latency-bound (one launch); a thread's reads are contiguous.
#include "prm_score.h"

#include <string>

#include "common.cuh"
#include "device.h"

namespace steprl::cuda {
namespace {

using cpu::StepAggregate;
constexpr int kThreads = 128;

__global__ void __launch_bounds__(kThreads)
prm_score_kernel(float* scores,                                   // [R]
                 const float* step_scores, const int32_t* offsets,  // [S], [R+1]
                 int64_t R, int64_t S, StepAggregate aggregate, unsigned long long* bad_offset,
                 unsigned long long* bad_score) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < R; i += stride) {
    const int64_t begin = offsets[i], end = offsets[i + 1];
    if (end < begin) atomicMin(bad_offset, static_cast<unsigned long long>(i + 1));
    if (begin < 0 || end < begin || end > S) continue;  // reported; nothing read
    const float* p = step_scores + begin;
    const int64_t K = end - begin;
    for (int64_t k = 0; k < K; ++k)
      if (!(p[k] >= 0.0f && p[k] <= 1.0f)) atomicMin(bad_score, static_cast<unsigned long long>(begin + k));
    double score = NAN;
    if (K > 0 && aggregate == StepAggregate::min) {
      score = p[0];
      for (int64_t k = 1; k < K; ++k) score = fmin(score, static_cast<double>(p[k]));
    } else if (K > 0 && aggregate == StepAggregate::last) {
      score = p[K - 1];
    } else if (K > 0) {
      double log_sum = 0.0;
      for (int64_t k = 0; k < K; ++k) log_sum += log(fmax(static_cast<double>(p[k]), cpu::kStepScoreFloor));
      score = exp(aggregate == StepAggregate::geomean ? log_sum * __drcp_rn(static_cast<double>(K)) : log_sum);
    }
    scores[i] = static_cast<float>(score);
  }
}

}  // namespace

void prm_score_cuda(const PrmScoreArgs& a) {
  const ErrorIndex bad_offset, bad_score;
  if (a.R > 0) {
    const int64_t blocks = ceil_div(a.R, kThreads);
    STEPRL_LAUNCH(prm_score_kernel, static_cast<unsigned>(blocks < 65535 ? blocks : 65535), kThreads, 0, stream(), a.scores,
                  a.step_scores, a.step_offsets, a.R, a.S, a.aggregate, bad_offset.device(), bad_score.device());
  }
  int32_t first = 0, last = 0;
  copy_to_host(&first, a.step_offsets, sizeof first);
  copy_to_host(&last, a.step_offsets + a.R, sizeof last);
  if (first != 0)
    throw ArgumentError("stepOffsets", "Expected 0 for stepOffsets[0] but received " + std::to_string(first) + " of type number");
  const uint64_t decrease = bad_offset.read();
  if (decrease != ErrorIndex::kNone) {
    int32_t pair[2];
    copy_to_host(pair, a.step_offsets + decrease - 1, sizeof pair);
    throw ArgumentError("stepOffsets", "Expected non-decreasing values for stepOffsets but received " + std::to_string(pair[1]) +
                                           " after " + std::to_string(pair[0]) + " at index " + std::to_string(decrease));
  }
  if (last != a.S)
    throw ArgumentError("stepOffsets", "Expected " + std::to_string(a.S) + " (the number of step scores) for stepOffsets[" +
                                           std::to_string(a.R) + "] but received " + std::to_string(last) + " of type number");
  const uint64_t score = bad_score.read();
  if (score != ErrorIndex::kNone) {
    float value = 0.0f;
    copy_to_host(&value, a.step_scores + score, sizeof value);
    throw ArgumentError("stepScores", "Expected a number in [0, 1] for every element of stepScores but received " +
                                          js_number(value) + " of type number at index " + std::to_string(score));
  }
}

}  // namespace steprl::cuda
