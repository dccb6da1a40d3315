// kl_penalty_simd.inl: the KL estimators of kl_penalty.h written once over the vector type `Vec`
// of the including ISA translation unit (simd_kernels.inl); policy_loss_simd.inl uses
// kl_estimate for the KL term of the loss. Both branches of k3 (Taylor series for |d| <= 0.5,
// e^d - 1 - d above) are computed and the lanes pick theirs.

namespace {
namespace kl_penalty_simd {

template <typename Vec>
inline void kl_estimate(KlEstimator estimator, typename Vec::F logprob, typename Vec::F ref, typename Vec::F* kl,
                        typename Vec::F* dkl) {
  using F = typename Vec::F;
  using B = typename Vec::B;
  const F zero = Vec::zero(), one = Vec::set1(1.0f);
  const F d = Vec::sub(ref, logprob);
  switch (estimator) {
    case KlEstimator::k1: *kl = Vec::neg(d); *dkl = one; return;
    case KlEstimator::k2: *kl = Vec::mul(Vec::set1(0.5f), Vec::mul(d, d)); *dkl = Vec::neg(d); return;
    case KlEstimator::abs:
      *kl = Vec::abs(d);
      *dkl = Vec::select(Vec::gt(d, zero), Vec::neg(one), Vec::select(Vec::lt(d, zero), one, zero));
      return;
    default: break;
  }
  const F bound = Vec::set1(kKlDeltaClamp), cap = Vec::set1(kKlValueClamp);
  const F dc = Vec::min(Vec::max(d, Vec::neg(bound)), bound);
  F p = Vec::set1(kK3Series[6]);
  for (int j = 5; j >= 0; --j) p = Vec::fmadd(p, dc, Vec::set1(kK3Series[j]));
  const F series = Vec::mul(Vec::mul(dc, dc), p);
  const F exp_m1 = Vec::sub(Vec::exp(dc), one);
  const B small = Vec::le(Vec::abs(dc), Vec::set1(kKlSeriesBound));
  const F expm1_dc = Vec::select(small, Vec::add(dc, series), exp_m1);
  const F value = Vec::select(small, series, Vec::sub(exp_m1, dc));
  *kl = Vec::min(Vec::max(value, Vec::neg(cap)), cap);
  if (estimator == KlEstimator::k3_plus) {
    *dkl = Vec::neg(d);
  } else {
    const B clamped = Vec::either(Vec::gt(Vec::abs(d), bound), Vec::gt(Vec::abs(value), cap));
    *dkl = Vec::select(clamped, zero, Vec::neg(expm1_dc));
  }
}

template <typename Vec>
void kl_penalty_span(const KlPenaltyArgs& a, int64_t begin, int64_t end) {
  using F = typename Vec::F;
  constexpr int W = Vec::kWidth;
  int64_t i = begin;
  for (; i + W <= end; i += W) {
    F kl, dkl;
    kl_estimate<Vec>(a.estimator, Vec::load(a.logprobs + i), Vec::load(a.ref_logprobs + i), &kl, &dkl);
    Vec::store(a.kl + i, kl);
    Vec::store(a.dkl + i, dkl);
  }
  if (i < end) {
    const auto m = Vec::tail(end - i);
    F kl, dkl;
    kl_estimate<Vec>(a.estimator, Vec::load(a.logprobs + i, m, Vec::zero()), Vec::load(a.ref_logprobs + i, m, Vec::zero()),
                     &kl, &dkl);
    Vec::store(a.kl + i, m, kl);
    Vec::store(a.dkl + i, m, dkl);
  }
}

}  // namespace kl_penalty_simd
}  // namespace

void STEPRL_SIMD_ENTRY(kl_penalty_forward_span)(const KlPenaltyArgs& a, int64_t begin, int64_t end) {
  kl_penalty_simd::kl_penalty_span<Vec>(a, begin, end);
}
