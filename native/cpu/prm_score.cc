// prm_score.cc: PRM solution scores (see prm_score.h). The offsets were checked by the caller
// (ops/prm_score.cc), so every read is in range.
#include "prm_score.h"

#include <algorithm>
#include <cmath>

#include "parallel.h"

namespace steprl::cpu {

void prm_score_cpu(const PrmScoreArgs& a, int64_t R) {
  parallel_for(R, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* p = a.step_scores + a.step_offsets[i];
      const int64_t K = static_cast<int64_t>(a.step_offsets[i + 1]) - a.step_offsets[i];
      double score = NAN;
      if (K > 0 && a.aggregate == StepAggregate::min) {
        score = p[0];
        for (int64_t k = 1; k < K; ++k) score = std::min(score, static_cast<double>(p[k]));
      } else if (K > 0 && a.aggregate == StepAggregate::last) {
        score = p[K - 1];
      } else if (K > 0) {
        double log_sum = 0.0;
        for (int64_t k = 0; k < K; ++k) log_sum += std::log(std::max(static_cast<double>(p[k]), kStepScoreFloor));
        score = std::exp(a.aggregate == StepAggregate::geomean ? log_sum / static_cast<double>(K) : log_sum);
      }
      a.scores[i] = static_cast<float>(score);
    }
  });
}

}  // namespace steprl::cpu
