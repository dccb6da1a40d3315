// prpo_advantage.cc: PRPO token advantages (see prpo_advantage.h). Per group, in row order: the
// mean reward (β), then for the empirical prior the pooled count and sum of the scores, the mean,
// the centred sum of squares; then every row of the group is written.
#include "prpo_advantage.h"

#include <cmath>
#include <vector>

#include "advantage_rows.h"
#include "parallel.h"

namespace steprl::cpu {
namespace {

void group_rows(const PrpoAdvantageArgs& a, const MaskView& mask, const int64_t* rows, int64_t G) {
  const int64_t T = a.T;
  double reward_sum = 0.0;
  for (int64_t k = 0; k < G; ++k) reward_sum += a.rewards[rows[k]];
  const double reward_mean = reward_sum / static_cast<double>(G);

  std::vector<int64_t> lengths(static_cast<size_t>(G));
  for (int64_t k = 0; k < G; ++k) lengths[static_cast<size_t>(k)] = mask.row_length(rows[k] * T, T);
  // Pooled tokens of row k: t < pooled_end(k) with m = 1.
  auto pooled_end = [&](int64_t k) { return a.compat ? std::max<int64_t>(lengths[static_cast<size_t>(k)] - 1, 0) : lengths[static_cast<size_t>(k)]; };

  double mu = a.mu0, inv_sigma = 1.0 / a.sigma0;
  if (a.empirical) {
    double count = 0.0, sum = 0.0;
    for (int64_t k = 0; k < G; ++k) {
      const int64_t base = rows[k] * T;
      for (int64_t t = 0; t < pooled_end(k); ++t)
        if (mask.on(base + t)) {
          count += 1.0;
          sum += a.token_scores[base + t];
        }
    }
    mu = count > 0.0 ? sum / count : 0.0;
    double squares = 0.0;
    for (int64_t k = 0; k < G; ++k) {
      const int64_t base = rows[k] * T;
      for (int64_t t = 0; t < pooled_end(k); ++t)
        if (mask.on(base + t)) {
          const double centred = a.token_scores[base + t] - mu;
          squares += centred * centred;
        }
    }
    const double sigma = count > 1.0 ? std::sqrt(squares / (count - 1.0)) : 0.0;
    inv_sigma = sigma + a.eps > 0.0 ? 1.0 / (sigma + a.eps) : 0.0;
  }

  for (int64_t k = 0; k < G; ++k) {
    const int64_t base = rows[k] * T, L = lengths[static_cast<size_t>(k)];
    const double beta = a.rewards[rows[k]] - reward_mean;
    float* out = a.advantages + base;
    for (int64_t t = 0; t < T; ++t) {
      if (t >= L || !mask.on(base + t)) {
        out[t] = 0.0f;
        continue;
      }
      const double s = a.token_scores[base + t];
      out[t] = static_cast<float>(a.compat && t == L - 1 ? s + beta : (s - mu) * inv_sigma + beta);
    }
  }
}

}  // namespace

void prpo_advantage_cpu(const PrpoAdvantageArgs& a, int64_t R) {
  const MaskView mask{a.mask, a.mask_u8};
  const GroupRuns runs = group_runs(a.group_ids, R);
  parallel_for(runs.count(), 1, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g) group_rows(a, mask, runs.rows(g), runs.size(g));
  });
}

}  // namespace steprl::cpu
