// kl_penalty.cc: dispatch (SIMD level, threads) and the scalar implementation of the KL
// estimators (the plain statement, kl_estimate_scalar in kl_penalty.h, over a span).
#include "kl_penalty.h"

#include <cstring>

#include "parallel.h"
#include "simd.h"

namespace steprl::cpu {
namespace {

// Elements per parallel task: 16 Ki elements move 192 KiB (two reads, two writes).
constexpr int64_t kKlGrain = int64_t{1} << 14;

}  // namespace

bool kl_estimator_from_name(const char* name, KlEstimator* out) {
  static const struct { const char* name; KlEstimator estimator; } kNames[] = {
      {"k1", KlEstimator::k1}, {"k2", KlEstimator::k2}, {"k3", KlEstimator::k3},
      {"k3+", KlEstimator::k3_plus}, {"abs", KlEstimator::abs}};
  for (const auto& entry : kNames)
    if (std::strcmp(entry.name, name) == 0) {
      *out = entry.estimator;
      return true;
    }
  return false;
}

void kl_penalty_forward_span_scalar(const KlPenaltyArgs& a, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) kl_estimate_scalar(a.estimator, a.logprobs[i], a.ref_logprobs[i], &a.kl[i], &a.dkl[i]);
}

void kl_penalty_forward_cpu(const KlPenaltyArgs& args, int64_t n) {
  const auto span = STEPRL_SIMD_KERNEL(kl_penalty_forward_span);
  parallel_for(n, kKlGrain, [&](int64_t begin, int64_t end) { span(args, begin, end); });
}

}  // namespace steprl::cpu
