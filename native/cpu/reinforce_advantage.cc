// reinforce_advantage.cc: REINFORCE++ (see reinforce_advantage.h): the group baseline, a backward
// pass per row for the discounted returns, then the batch mean and population variance of the
// masked returns (row partials in row order) and one scaling pass.
#include "reinforce_advantage.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "advantage_rows.h"
#include "parallel.h"

namespace steprl::cpu {

void reinforce_advantage_cpu(const ReinforceAdvantageArgs& a, int64_t R) {
  const MaskView mask{a.mask, a.mask_u8};
  const int64_t T = a.T;
  std::vector<double> outcome(a.rewards, a.rewards + R);  // r̃
  if (a.group_ids != nullptr) {
    const GroupRuns runs = group_runs(a.group_ids, R);
    for (int64_t g = 0; g < runs.count(); ++g) {
      const int64_t* rows = runs.rows(g);
      const int64_t G = runs.size(g);
      double sum = 0.0;
      bool equal = true;
      for (int64_t k = 0; k < G; ++k) {
        sum += a.rewards[rows[k]];
        equal = equal && a.rewards[rows[k]] == a.rewards[rows[0]];
      }
      if (G == 1) continue;  // no baseline for a lone row: r̃ = r (GRPO's singleton rule, ALGORITHMS.md §6.4)
      const double mean = sum / static_cast<double>(G);
      for (int64_t k = 0; k < G; ++k) outcome[static_cast<size_t>(rows[k])] = equal ? 0.0 : a.rewards[rows[k]] - mean;
    }
  }
  const bool kl = a.kl_coef != 0.0;
  std::vector<double> row_count(static_cast<size_t>(R)), row_sum(static_cast<size_t>(R));
  parallel_for(R, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t base = i * T, L = mask.row_length(base, T);
      double carry = 0.0, count = 0.0, sum = 0.0;
      for (int64_t t = T - 1; t >= 0; --t) {
        const bool on = mask.on(base + t);
        double reward = 0.0;
        if (on && kl) reward = -a.kl_coef * (static_cast<double>(a.old_logprobs[base + t]) - a.ref_logprobs[base + t]);
        if (t == L - 1) reward += outcome[static_cast<size_t>(i)];
        carry = reward + a.gamma * carry;
        const float stored = on ? static_cast<float>(carry) : 0.0f;
        a.returns[base + t] = stored;
        a.advantages[base + t] = stored;
        if (on) {
          count += 1.0;
          sum += stored;
        }
      }
      row_count[static_cast<size_t>(i)] = count;
      row_sum[static_cast<size_t>(i)] = sum;
    }
  });
  if (!a.normalize) return;
  const MaskedMoments m = masked_moments(a.returns, mask, R, T, row_count, row_sum);
  if (m.n == 0.0) return;  // nothing valid: every advantage is already 0
  const double inv_std = 1.0 / std::sqrt(std::max(m.squares / m.n, kReinforceVarianceFloor));
  masked_scale(a.advantages, a.returns, mask, R * T, m.mean, inv_std);
}

}  // namespace steprl::cpu
