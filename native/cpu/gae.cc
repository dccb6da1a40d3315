// gae.cc: GAE and masked whitening (see gae.h): a backward pass per row, then the batch mean and
// variance of the masked advantages (row partials in row order), then one scaling pass.
#include "gae.h"

#include <cmath>
#include <vector>

#include "advantage_rows.h"
#include "parallel.h"

namespace steprl::cpu {

void gae_cpu(const GaeArgs& a, int64_t R) {
  const MaskView mask{a.mask, a.mask_u8};
  const int64_t T = a.T;
  const double decay = a.gamma * a.lambda;
  std::vector<double> row_count(static_cast<size_t>(R)), row_sum(static_cast<size_t>(R));
  parallel_for(R, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t base = i * T;
      double next_value = 0.0, advantage = 0.0, count = 0.0, sum = 0.0;
      for (int64_t t = T - 1; t >= 0; --t) {
        const bool on = mask.on(base + t);
        const double r = on ? a.rewards[base + t] : 0.0, v = on ? a.values[base + t] : 0.0;
        advantage = r + a.gamma * next_value - v + decay * advantage;
        next_value = v;
        const float stored = on ? static_cast<float>(advantage) : 0.0f;
        a.advantages[base + t] = stored;
        a.returns[base + t] = on ? static_cast<float>(advantage + v) : 0.0f;
        if (on) {
          count += 1.0;
          sum += stored;
        }
      }
      row_count[static_cast<size_t>(i)] = count;
      row_sum[static_cast<size_t>(i)] = sum;
    }
  });
  if (!a.whiten) return;
  const MaskedMoments m = masked_moments(a.advantages, mask, R, T, row_count, row_sum);
  if (m.n == 0.0) return;  // nothing valid: every advantage is already 0
  const double variance = m.n > 1.0 ? m.squares / (m.n - 1.0) : 0.0;
  masked_scale(a.advantages, a.advantages, mask, R * T, m.mean, 1.0 / std::sqrt(variance + kWhitenEps));
}

}  // namespace steprl::cpu
