// process_grpo_advantage.cc: process-supervised GRPO (see process_grpo_advantage.h). Checks first
// (single-threaded: each row's step ends against L_i and their order), then per group the pooled
// float64 statistics and, per row, one backward pass that adds r̃_j as t passes e_j.
#include "process_grpo_advantage.h"

#include <cmath>
#include <string>
#include <vector>

#include "../../include/steprl/errors.h"
#include "advantage_rows.h"
#include "parallel.h"

namespace steprl::cpu {
namespace {

// The offsets were checked by the caller (ops/process_grpo_advantage.cc); the step ends are here.
void check_steps(const ProcessGrpoAdvantageArgs& a, const MaskView& mask, int64_t R) {
  const int32_t* o = a.step_offsets;
  for (int64_t i = 0; i < R; ++i) {
    const int64_t L = mask.row_length(i * a.T, a.T);
    for (int64_t j = o[i]; j < o[i + 1]; ++j) {
      const int64_t e = a.step_ends[j];
      if (e < 0 || e >= L)
        throw ArgumentError("stepEnds", "Expected a token index in [0, " + std::to_string(L) + ") (the length of row " +
                                            std::to_string(i) + ") for stepEnds[" + std::to_string(j) + "] but received " +
                                            std::to_string(e));
      if (j > o[i] && e < a.step_ends[j - 1])
        throw ArgumentError("stepEnds", "Expected non-decreasing stepEnds within row " + std::to_string(i) + " but received " +
                                            std::to_string(e) + " after " + std::to_string(a.step_ends[j - 1]) +
                                            " at index " + std::to_string(j));
    }
  }
}

void group_rows(const ProcessGrpoAdvantageArgs& a, const MaskView& mask, const int64_t* rows, int64_t G) {
  const int32_t* o = a.step_offsets;
  double count = 0.0, sum = 0.0;
  for (int64_t k = 0; k < G; ++k)
    for (int64_t j = o[rows[k]]; j < o[rows[k] + 1]; ++j) {
      count += 1.0;
      sum += a.step_rewards[j];
    }
  const double mean = count > 0.0 ? sum / count : 0.0;
  double squares = 0.0;
  for (int64_t k = 0; k < G; ++k)
    for (int64_t j = o[rows[k]]; j < o[rows[k] + 1]; ++j) {
      const double centred = a.step_rewards[j] - mean;
      squares += centred * centred;
    }
  const double sigma = count > 1.0 ? std::sqrt(squares / (count - 1.0)) : 0.0;
  const double scale = sigma > 0.0 ? 1.0 / (sigma + a.eps) : 0.0;  // |R_g| <= 1 or std = 0: r̃ = 0

  for (int64_t k = 0; k < G; ++k) {
    const int64_t i = rows[k], base = i * a.T;
    float* out = a.advantages + base;
    int64_t j = static_cast<int64_t>(o[i + 1]) - 1;
    double suffix = 0.0;
    for (int64_t t = a.T - 1; t >= 0; --t) {
      for (; j >= o[i] && a.step_ends[j] >= t; --j) suffix += (a.step_rewards[j] - mean) * scale;
      out[t] = mask.on(base + t) ? static_cast<float>(suffix) : 0.0f;
    }
  }
}

}  // namespace

void process_grpo_advantage_cpu(const ProcessGrpoAdvantageArgs& a, int64_t R) {
  const MaskView mask{a.mask, a.mask_u8};
  check_steps(a, mask, R);
  const GroupRuns runs = group_runs(a.group_ids, R);
  parallel_for(runs.count(), 1, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g) group_rows(a, mask, runs.rows(g), runs.size(g));
  });
}

}  // namespace steprl::cpu
