// policy_loss_simd.inl: the policy-loss rows written once over the vector type `Vec` of the
// including ISA translation unit (simd_kernels.inl), after kl_penalty_simd.inl (the KL term).
// Every token is computed branch-free; the mask selects which lanes write a gradient and enter
// the sums, so padding (whatever it holds, NaN included) never leaks into either. Tail lanes load
// a zero mask. Sums run in float vectors for kPolicyLossBlock tokens, then in double, to stay
// near float64.

namespace {
namespace policy_loss_simd {

// Float accumulators of one block of a row (plain arrays: no implicit member functions, which
// would be compiled without this file's ISA).
enum PolicyLossSum { kSumPsi, kSumKl, kSumClipped, kSumApprox, kSumTokens, kSumCount };

template <typename Vec>
inline void policy_loss_flush(typename Vec::F* acc, PolicyLossRowSums* s) {
  s->psi += Vec::reduce_add(acc[kSumPsi]);
  s->kl += Vec::reduce_add(acc[kSumKl]);
  s->clipped += Vec::reduce_add(acc[kSumClipped]);
  s->approx_kl += Vec::reduce_add(acc[kSumApprox]);
  s->tokens += Vec::reduce_add(acc[kSumTokens]);
  for (int k = 0; k < kSumCount; ++k) acc[k] = Vec::zero();
}

// One vector of tokens at i with lanes `lanes` (a tail mask or Vec::kFull).
template <typename Vec, typename MaskIn, bool HasRef, bool Full>
inline void policy_loss_step(const PolicyLossArgs& a, int64_t i, typename Vec::Mask lanes, typename Vec::F weight,
                             typename Vec::F* acc) {
  using F = typename Vec::F;
  using B = typename Vec::B;
  const F zero = Vec::zero(), one = Vec::set1(1.0f);
  const F low = Vec::set1(1.0f - a.clip_low), high = Vec::set1(1.0f + a.clip_high), c = Vec::set1(a.dual_clip);
  const F bound = Vec::set1(kRatioClamp);
  const MaskIn* mask = static_cast<const MaskIn*>(a.mask);
  const F l = Full ? Vec::load(a.logprobs + i) : Vec::load(a.logprobs + i, lanes, zero);
  const F old = Full ? Vec::load(a.old_logprobs + i) : Vec::load(a.old_logprobs + i, lanes, zero);
  const F A = Full ? Vec::load(a.advantages + i) : Vec::load(a.advantages + i, lanes, zero);
  const B on = Vec::ne(Full ? Vec::load(mask + i) : Vec::load(mask + i, lanes, zero), zero);

  const F d = Vec::sub(l, old);
  const B ratio_clamped = Vec::gt(Vec::abs(d), bound);
  const F rho = Vec::exp(Vec::min(Vec::max(d, Vec::neg(bound)), bound));
  const F neg_a = Vec::neg(A);
  const F unclipped_value = Vec::mul(neg_a, rho);
  F psi = Vec::max(unclipped_value, Vec::mul(neg_a, Vec::min(Vec::max(rho, low), high)));
  const B negative = Vec::lt(A, zero);
  psi = Vec::select(negative, Vec::min(psi, Vec::mul(neg_a, c)), psi);
  const B active = Vec::either(Vec::both(Vec::gt(A, zero), Vec::le(rho, high)),
                               Vec::both(negative, Vec::both(Vec::ge(rho, low), Vec::le(rho, c))));
  const B unclipped = Vec::but_not(active, ratio_clamped);
  F g = Vec::select(unclipped, unclipped_value, zero);
  if (HasRef) {
    F kl, dkl;
    const F ref = Full ? Vec::load(a.ref_logprobs + i) : Vec::load(a.ref_logprobs + i, lanes, zero);
    kl_penalty_simd::kl_estimate<Vec>(a.kl_estimator, l, ref, &kl, &dkl);
    g = Vec::fmadd(Vec::set1(a.kl_coef), dkl, g);
    acc[kSumKl] = Vec::add(acc[kSumKl], Vec::select(on, kl, zero));
  }
  const F dl = Vec::select(on, Vec::mul(weight, g), zero);
  if (Full) Vec::store(a.dlogprobs + i, dl);
  else Vec::store(a.dlogprobs + i, lanes, dl);
  acc[kSumPsi] = Vec::add(acc[kSumPsi], Vec::select(on, psi, zero));
  acc[kSumClipped] = Vec::add(acc[kSumClipped], Vec::select(Vec::both(on, Vec::but_not(Vec::ne(A, zero), unclipped)), one, zero));
  acc[kSumApprox] = Vec::add(acc[kSumApprox], Vec::select(on, Vec::sub(old, l), zero));
  acc[kSumTokens] = Vec::add(acc[kSumTokens], Vec::select(on, one, zero));
}

template <typename Vec, typename MaskIn, bool HasRef>
void policy_loss_rows_impl(const PolicyLossArgs& a, const float* weights, PolicyLossRowSums* sums, int64_t begin,
                           int64_t end) {
  constexpr int W = Vec::kWidth;
  for (int64_t r = begin; r < end; ++r) {
    PolicyLossRowSums s{};
    typename Vec::F acc[kSumCount];
    for (int k = 0; k < kSumCount; ++k) acc[k] = Vec::zero();
    const typename Vec::F weight = Vec::set1(weights[r]);
    const int64_t row = r * a.T;
    for (int64_t b = 0; b < a.T; b += kPolicyLossBlock) {
      const int64_t block_end = b + kPolicyLossBlock < a.T ? b + kPolicyLossBlock : a.T;
      int64_t t = b;
      for (; t + W <= block_end; t += W) policy_loss_step<Vec, MaskIn, HasRef, true>(a, row + t, Vec::kFull, weight, acc);
      if (t < block_end) policy_loss_step<Vec, MaskIn, HasRef, false>(a, row + t, Vec::tail(block_end - t), weight, acc);
      policy_loss_flush<Vec>(acc, &s);
    }
    sums[r] = s;
  }
}

template <typename Vec>
void policy_loss_rows_simd(const PolicyLossArgs& a, const float* weights, PolicyLossRowSums* sums, int64_t begin,
                           int64_t end) {
  const bool ref = a.ref_logprobs != nullptr;
  if (a.mask_u8) {
    if (ref) policy_loss_rows_impl<Vec, uint8_t, true>(a, weights, sums, begin, end);
    else policy_loss_rows_impl<Vec, uint8_t, false>(a, weights, sums, begin, end);
  } else {
    if (ref) policy_loss_rows_impl<Vec, float, true>(a, weights, sums, begin, end);
    else policy_loss_rows_impl<Vec, float, false>(a, weights, sums, begin, end);
  }
}

}  // namespace policy_loss_simd
}  // namespace

void STEPRL_SIMD_ENTRY(policy_loss_rows)(const PolicyLossArgs& a, const float* weights, PolicyLossRowSums* sums,
                                         int64_t begin, int64_t end) {
  policy_loss_simd::policy_loss_rows_simd<Vec>(a, weights, sums, begin, end);
}
