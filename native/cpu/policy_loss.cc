// policy_loss.cc: dispatch (SIMD level, threads), the aggregation weights, the row-order
// combination of the per-row sums, and the scalar implementation, which is the plain statement of
// the per-token math the AVX2/AVX-512 files vectorize (policy_loss_simd.inl); plus the gspo,
// gspo-token and cispo modes, scalar only.
#include "policy_loss.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "parallel.h"
#include "simd.h"

namespace steprl::cpu {
namespace {

// Rows per parallel task: at least ~8 Ki tokens (~160 KiB of inputs) each.
int64_t grain_for(int64_t T) { return std::max<int64_t>(1, 8192 / std::max<int64_t>(T, 1)); }

inline bool mask_on(const PolicyLossArgs& a, int64_t i) {
  return a.mask_u8 ? static_cast<const uint8_t*>(a.mask)[i] != 0 : static_cast<const float*>(a.mask)[i] != 0.0f;
}

// L_i = number of masked tokens of each row (exact: integer counts).
std::vector<double> row_token_counts(const PolicyLossArgs& a, int64_t R) {
  std::vector<double> counts(static_cast<size_t>(R));
  parallel_for(R, grain_for(a.T), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      int64_t n = 0;
      if (a.mask_u8) {
        const uint8_t* m = static_cast<const uint8_t*>(a.mask) + r * a.T;
        for (int64_t t = 0; t < a.T; ++t) n += m[t] != 0;
      } else {
        const float* m = static_cast<const float*>(a.mask) + r * a.T;
        for (int64_t t = 0; t < a.T; ++t) n += m[t] != 0.0f;
      }
      counts[static_cast<size_t>(r)] = static_cast<double>(n);
    }
  });
  return counts;
}

// What every mode does with an unmasked token i once its surrogate psi and gradient g are known:
// the KL term (its gradient added to g), the weighted gradient written, the row sums updated.
inline void add_token(const PolicyLossArgs& a, int64_t i, float l, float old, float psi, float g, bool clipped,
                      float w, PolicyLossRowSums& s) {
  if (a.ref_logprobs != nullptr) {
    float kl, dkl;
    kl_estimate_scalar(a.kl_estimator, l, a.ref_logprobs[i], &kl, &dkl);
    g += a.kl_coef * dkl;
    s.kl += kl;
  }
  a.dlogprobs[i] = w * g;
  s.psi += psi;
  s.clipped += clipped ? 1.0 : 0.0;
  s.approx_kl += static_cast<double>(old) - static_cast<double>(l);
  s.tokens += 1.0;
}

}  // namespace

bool loss_aggregation_from_name(const char* name, LossAggregation* out) {
  static const struct { const char* name; LossAggregation aggregation; } kNames[] = {
      {"token-mean", LossAggregation::token_mean},
      {"seq-mean-token-mean", LossAggregation::seq_mean_token_mean},
      {"seq-mean-token-sum", LossAggregation::seq_mean_token_sum},
      {"seq-mean-token-sum-norm", LossAggregation::seq_mean_token_sum_norm}};
  for (const auto& entry : kNames)
    if (std::strcmp(entry.name, name) == 0) {
      *out = entry.aggregation;
      return true;
    }
  return false;
}

bool policy_loss_mode_from_name(const char* name, PolicyLossMode* out) {
  static const struct { const char* name; PolicyLossMode mode; } kNames[] = {
      {"clip", PolicyLossMode::clip}, {"gspo", PolicyLossMode::gspo}, {"gspo-token", PolicyLossMode::gspo_token},
      {"cispo", PolicyLossMode::cispo}};
  for (const auto& entry : kNames)
    if (std::strcmp(entry.name, name) == 0) {
      *out = entry.mode;
      return true;
    }
  return false;
}

// s·c_i for every row (§1.4).
std::vector<double> policy_loss_row_weights(const PolicyLossArgs& a, int64_t R) {
  std::vector<double> weights(static_cast<size_t>(R), 0.0);
  const double N = a.row_count;
  switch (a.aggregation) {
    case LossAggregation::token_mean: {
      double total = a.token_count;
      if (total == 0.0)
        for (double n : row_token_counts(a, R)) total += n;
      if (total > 0.0) std::fill(weights.begin(), weights.end(), a.loss_scale / total);
      break;
    }
    case LossAggregation::seq_mean_token_mean: {
      const std::vector<double> counts = row_token_counts(a, R);
      for (int64_t r = 0; r < R; ++r)  // a row without tokens contributes nothing
        if (counts[static_cast<size_t>(r)] > 0.0) weights[static_cast<size_t>(r)] = a.loss_scale / (N * counts[static_cast<size_t>(r)]);
      break;
    }
    case LossAggregation::seq_mean_token_sum: std::fill(weights.begin(), weights.end(), a.loss_scale / N); break;
    case LossAggregation::seq_mean_token_sum_norm:
      std::fill(weights.begin(), weights.end(), a.loss_scale / (N * a.max_length));
      break;
  }
  return weights;
}

PolicyLossRowsKernel policy_loss_rows_kernel(PolicyLossMode mode) {
  if (mode != PolicyLossMode::clip) return policy_loss_rows_modes;
  return STEPRL_SIMD_KERNEL(policy_loss_rows);
}

void policy_loss_rows_modes(const PolicyLossArgs& a, const float* weights, PolicyLossRowSums* sums, int64_t begin,
                            int64_t end) {
  const float low = 1.0f - a.clip_low, high = 1.0f + a.clip_high;
  const bool sequence = a.mode == PolicyLossMode::gspo, gspo = sequence || a.mode == PolicyLossMode::gspo_token;
  for (int64_t r = begin; r < end; ++r) {
    PolicyLossRowSums s{};
    const float w = weights[r];
    const int64_t row = r * a.T;
    // GSPO's sequence ratio s_i from the masked mean of ℓ − ℓold (float64 sum, row order).
    float seq_ratio = 1.0f;
    bool seq_clamped = false;
    if (gspo) {
      double sum = 0.0, count = 0.0;
      for (int64_t i = row; i < row + a.T; ++i)
        if (mask_on(a, i)) {
          sum += static_cast<double>(a.logprobs[i]) - static_cast<double>(a.old_logprobs[i]);
          count += 1.0;
        }
      const double mean = count > 0.0 ? sum / count : 0.0;
      seq_clamped = std::fabs(mean) > kRatioClamp;
      seq_ratio = static_cast<float>(std::exp(std::min(std::max(mean, -static_cast<double>(kRatioClamp)),
                                                       static_cast<double>(kRatioClamp))));
    }
    double g_sum = 0.0;  // gspo: Σ_u gψ over the row, shared by every token through s_i
    for (int64_t i = row; i < row + a.T; ++i) {
      if (!mask_on(a, i)) {
        a.dlogprobs[i] = 0.0f;
        continue;
      }
      const float l = a.logprobs[i], old = a.old_logprobs[i], A = a.advantages[i];
      float psi, g;
      bool clipped;
      if (gspo) {
        psi = std::max(-A * seq_ratio, -A * std::min(std::max(seq_ratio, low), high));
        const bool active = (A > 0.0f && seq_ratio <= high) || (A < 0.0f && seq_ratio >= low);
        const bool unclipped = active && !seq_clamped;
        g = unclipped ? -A * seq_ratio : 0.0f;
        clipped = A != 0.0f && !unclipped;
      } else {  // cispo: the clipped ratio is a constant weight
        const float rho = std::exp(std::min(std::max(l - old, -kRatioClamp), kRatioClamp));
        const float weight = std::min(std::max(rho, low), high);
        psi = -weight * A * l;
        g = -weight * A;
        clipped = A != 0.0f && weight != rho;
      }
      if (sequence) {
        g_sum += g;
        g = 0.0f;
      }
      add_token(a, i, l, old, psi, g, clipped, w, s);
    }
    if (sequence && s.tokens > 0.0) {
      const float shared = static_cast<float>(static_cast<double>(w) * g_sum / s.tokens);
      for (int64_t i = row; i < row + a.T; ++i)
        if (mask_on(a, i)) a.dlogprobs[i] += shared;
    }
    sums[r] = s;
  }
}

void policy_loss_rows_scalar(const PolicyLossArgs& a, const float* weights, PolicyLossRowSums* sums, int64_t begin,
                             int64_t end) {
  const float low = 1.0f - a.clip_low, high = 1.0f + a.clip_high, c = a.dual_clip;
  for (int64_t r = begin; r < end; ++r) {
    PolicyLossRowSums s{};
    const float w = weights[r];
    for (int64_t i = r * a.T; i < (r + 1) * a.T; ++i) {
      if (!mask_on(a, i)) {
        a.dlogprobs[i] = 0.0f;
        continue;
      }
      const float l = a.logprobs[i], old = a.old_logprobs[i], A = a.advantages[i];
      const float d = l - old;
      const bool ratio_clamped = std::fabs(d) > kRatioClamp;
      const float rho = std::exp(std::min(std::max(d, -kRatioClamp), kRatioClamp));
      float psi = std::max(-A * rho, -A * std::min(std::max(rho, low), high));
      if (A < 0.0f) psi = std::min(psi, -A * c);
      const bool active = (A > 0.0f && rho <= high) || (A < 0.0f && rho >= low && rho <= c);
      const bool unclipped = active && !ratio_clamped;
      float g = unclipped ? -A * rho : 0.0f;
      add_token(a, i, l, old, psi, g, A != 0.0f && !unclipped, w, s);
    }
    sums[r] = s;
  }
}

PolicyLossResult policy_loss_cpu(const PolicyLossArgs& args, int64_t R) {
  const std::vector<double> weights = policy_loss_row_weights(args, R);
  std::vector<float> weights_f(weights.begin(), weights.end());
  std::vector<PolicyLossRowSums> sums(static_cast<size_t>(R));
  const PolicyLossRowsKernel rows = policy_loss_rows_kernel(args.mode);
  parallel_for(R, grain_for(args.T), [&](int64_t begin, int64_t end) {
    rows(args, weights_f.data(), sums.data(), begin, end);
  });
  return policy_loss_combine(args, weights.data(), sums.data(), R);
}

PolicyLossResult policy_loss_combine(const PolicyLossArgs& args, const double* weights, const PolicyLossRowSums* sums,
                                     int64_t R) {
  // Combined in row order, in double: the same bits for any thread count.
  double pg = 0.0, kl_weighted = 0.0, kl = 0.0, clipped = 0.0, approx = 0.0, tokens = 0.0;
  for (int64_t r = 0; r < R; ++r) {
    const PolicyLossRowSums& s = sums[r];
    pg += weights[r] * s.psi;
    kl_weighted += weights[r] * s.kl;
    kl += s.kl;
    clipped += s.clipped;
    approx += s.approx_kl;
    tokens += s.tokens;
  }
  PolicyLossResult result{};
  if (tokens == 0.0) return result;  // nothing masked in: every output is 0
  result.pg_loss = pg;
  result.kl_loss = args.ref_logprobs != nullptr ? static_cast<double>(args.kl_coef) * kl_weighted : 0.0;
  result.loss = result.pg_loss + result.kl_loss;
  result.clip_fraction = clipped / tokens;
  result.kl = kl / tokens;
  result.approx_kl = approx / tokens;
  return result;
}

}  // namespace steprl::cpu
