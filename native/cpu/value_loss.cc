// value_loss.cc: the CPU statement of valueLoss (include/steprl/value_loss.h has the math). One
// sequential pass in float64, rows in order and t ascending, the loss summed in that order: the
// arithmetic (and so the bits) of the TypeScript loop in lib/optim/update.ts that it replaced.
// Memory-bound and small next to the forward pass that makes the values: no threads, no SIMD.
#include <algorithm>
#include <cmath>
#include <limits>

#include "../../include/steprl/value_loss.h"

namespace steprl::cpu {
namespace {

// Math.max / Math.min: NaN if either side is NaN (std::max would return its first argument).
double js_max(double x, double y) {
  return std::isnan(x) || std::isnan(y) ? std::numeric_limits<double>::quiet_NaN() : (x < y ? y : x);
}
double js_min(double x, double y) {
  return std::isnan(x) || std::isnan(y) ? std::numeric_limits<double>::quiet_NaN() : (y < x ? y : x);
}

bool mask_on(const ValueLossArgs& a, int64_t i) {
  return a.mask_u8 ? static_cast<const unsigned char*>(a.mask)[i] != 0 : static_cast<const float*>(a.mask)[i] != 0.0f;
}

}  // namespace

ValueLossResult value_loss_cpu(const ValueLossArgs& a) {
  double loss = 0.0;
  for (int64_t r = 0; r < a.R; ++r) {
    float* dv = a.dvalues + r * a.W;
    const float* values = a.values + r * a.W + a.offset;
    std::fill(dv, dv + a.W, 0.0f);
    for (int64_t t = 0; t < a.T; ++t) {
      const int64_t i = r * a.T + t;
      if (!mask_on(a, i)) continue;
      const double v = values[t], old = a.old_values[i], target = a.returns[i];
      const double clipped = js_min(js_max(v, old - a.clip), old + a.clip);
      const double d_plain = v - target, d_clipped = clipped - target;
      const double plain = d_plain * d_plain, clipped_sq = d_clipped * d_clipped;
      const bool unclipped = plain >= clipped_sq;
      const double l = 0.5 * (unclipped ? plain : clipped_sq);
      const double grad = unclipped ? d_plain : 0.0;
      loss += (a.coef * l) / a.token_count;
      dv[a.offset + t] = static_cast<float>((a.coef * grad) / a.token_count);
    }
  }
  return {loss};
}

}  // namespace steprl::cpu
