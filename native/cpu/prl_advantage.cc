// prl_advantage.cc: PRL process advantages (see prl_advantage.h). One backward pass per row carries
// the suffix sum S (float64) and the value of the nearest step end at or after t, so the "fill from
// the next step end" of §6.1(c) and the scan of §6.1(b) are the same loop.
#include "prl_advantage.h"

#include "advantage_rows.h"
#include "parallel.h"

namespace steprl::cpu {

void prl_advantage_cpu(const PrlAdvantageArgs& a, int64_t R) {
  const MaskView mask{a.mask, a.mask_u8};
  const int64_t T = a.T;
  const double inv_eta = 1.0 / a.eta;
  parallel_for(R, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t base = i * T;
      const int64_t L = mask.row_length(base, T);
      float* out = a.advantages + base;
      for (int64_t t = L; t < T; ++t) out[t] = 0.0f;
      const double outcome = a.outcome_advantages[i];
      double S = 0.0, value = 0.0;  // S[i,t] and v at the nearest step end >= t
      for (int64_t t = L - 1; t >= 0; --t) {
        const bool on = mask.on(base + t);
        const double after = S;  // S[i,t+1]
        if (on) S += static_cast<double>(a.old_logprobs[base + t]) - static_cast<double>(a.ref_logprobs[base + t]);
        const bool step_end = a.mode == PrlMode::token ? on : (t == L - 1 || a.step_ends[base + t] != 0);
        if (step_end) value = outcome - (a.next_step ? after : S) * inv_eta;
        out[t] = on ? static_cast<float>(value) : 0.0f;
      }
    }
  });
}

}  // namespace steprl::cpu
