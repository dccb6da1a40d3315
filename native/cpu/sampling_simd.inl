// sampling_simd.inl: the row primitives of sampling.h written once over the vector type `Vec` of
// the including ISA translation unit (simd_kernels.inl). exp2 maps -inf logits to exactly 0.

namespace {
namespace sampling_simd {

float row_max(const float* z, int64_t n) {
  using F = Vec::F;
  constexpr int64_t W = Vec::kWidth;
  const F neg_inf = Vec::set1(-INFINITY);
  F m0 = neg_inf, m1 = neg_inf;
  Vec::B nan = Vec::lt(neg_inf, neg_inf);  // all false
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    const F x0 = Vec::load(z + i), x1 = Vec::load(z + i + W);
    nan = Vec::either(nan, Vec::either(Vec::is_nan(x0), Vec::is_nan(x1)));
    m0 = Vec::max(m0, x0);
    m1 = Vec::max(m1, x1);
  }
  for (; i < n; i += W) {
    const F x = Vec::load(z + i, Vec::tail(n - i), neg_inf);
    nan = Vec::either(nan, Vec::is_nan(x));
    m0 = Vec::max(m0, x);
  }
  return Vec::any(nan) ? NAN : Vec::reduce_max(Vec::max(m0, m1));
}

float exp2_sum(const float* z, int64_t n, float max, float scale) {
  using F = Vec::F;
  constexpr int64_t W = Vec::kWidth;
  const F vs = Vec::set1(scale), vm = Vec::set1(max);
  F s0 = Vec::zero(), s1 = Vec::zero();
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    s0 = Vec::add(s0, Vec::exp2(Vec::mul(Vec::sub(Vec::load(z + i), vm), vs)));
    s1 = Vec::add(s1, Vec::exp2(Vec::mul(Vec::sub(Vec::load(z + i + W), vm), vs)));
  }
  for (; i < n; i += W) {
    const auto m = Vec::tail(n - i);
    s0 = Vec::add(s0, Vec::keep(m, Vec::exp2(Vec::mul(Vec::sub(Vec::load(z + i, m, vm), vm), vs))));
  }
  return Vec::reduce_add(Vec::add(s0, s1));
}

void exp2_values(float* out, const float* z, int64_t n, float max, float scale) {
  const Vec::F vs = Vec::set1(scale), vm = Vec::set1(max);
  for (int64_t i = 0; i < n; i += Vec::kWidth) {
    const auto m = Vec::tail(n - i);
    Vec::store(out + i, m, Vec::exp2(Vec::mul(Vec::sub(Vec::load(z + i, m, vm), vm), vs)));
  }
}

int64_t find_at_least(const float* z, int64_t begin, int64_t n, float threshold) {
  constexpr int64_t W = Vec::kWidth;
  const Vec::F t = Vec::set1(threshold);
  int64_t i = begin;
  for (; i + W <= n; i += W)
    if (Vec::any(Vec::ge(Vec::load(z + i), t))) break;
  for (; i < n; ++i)
    if (z[i] >= threshold) return i;
  return n;
}

}  // namespace sampling_simd
}  // namespace

SampleKernels STEPRL_SIMD_ENTRY(sample_kernels)() {
  return {sampling_simd::row_max, sampling_simd::exp2_sum, sampling_simd::exp2_values, sampling_simd::find_at_least};
}
