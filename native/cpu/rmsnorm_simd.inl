// rmsnorm_simd.inl: the RMSNorm kernels written once over the vector type `Vec` of the including
// ISA translation unit (simd_kernels.inl); rmsnorm.cc states them as plain loops.
// A row is read twice (sum of squares, then the scaled copy) while it is still in L1.

namespace {
namespace rmsnorm_simd {

template <typename Vec>
float sum_of_products(const float* x, const float* y, int64_t n) {
  using F = typename Vec::F;
  constexpr int W = Vec::kWidth;
  F s0 = Vec::zero(), s1 = Vec::zero();
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    s0 = Vec::fmadd(Vec::load(x + i), Vec::load(y + i), s0);
    s1 = Vec::fmadd(Vec::load(x + i + W), Vec::load(y + i + W), s1);
  }
  for (; i < n; i += W) {
    const auto m = Vec::tail(n - i);
    s0 = Vec::fmadd(Vec::load(x + i, m, Vec::zero()), Vec::load(y + i, m, Vec::zero()), s0);
  }
  return Vec::reduce_add(Vec::add(s0, s1));
}

template <typename Vec>
void forward_rows(const RmsnormForwardArgs& a, int64_t begin, int64_t end) {
  using F = typename Vec::F;
  constexpr int W = Vec::kWidth;
  const int64_t C = a.C;
  for (int64_t n = begin; n < end; ++n) {
    const float* x = a.inp + n * C;
    float* y = a.out + n * C;
    const float r = 1.0f / sqrtf(sum_of_products<Vec>(x, x, C) / static_cast<float>(C) + a.eps);
    a.rstd[n] = r;
    const F vr = Vec::set1(r);
    for (int64_t i = 0; i < C; i += W) {
      const auto m = Vec::tail(C - i);
      const F v = Vec::mul(Vec::mul(Vec::load(x + i, m, Vec::zero()), vr), Vec::load(a.weight + i, m, Vec::zero()));
      Vec::store(y + i, m, v);
    }
  }
}

// dx += r*w*g + k*x with k = -r^3/C * sum(g*w*x); partial += g*x*r.
template <typename Vec>
void backward_rows(const RmsnormBackwardArgs& a, float* partial, int64_t begin, int64_t end) {
  using F = typename Vec::F;
  constexpr int W = Vec::kWidth;
  const int64_t C = a.C;
  for (int64_t i = 0; i < C; i += W) Vec::store(partial + i, Vec::tail(C - i), Vec::zero());
  for (int64_t n = begin; n < end; ++n) {
    const float* x = a.inp + n * C;
    const float* g = a.dout + n * C;
    float* dx = a.dinp + n * C;
    const float r = a.rstd[n];
    F d0 = Vec::zero(), d1 = Vec::zero();
    int64_t i = 0;
    for (; i + 2 * W <= C; i += 2 * W) {
      d0 = Vec::fmadd(Vec::mul(Vec::load(g + i), Vec::load(a.weight + i)), Vec::load(x + i), d0);
      d1 = Vec::fmadd(Vec::mul(Vec::load(g + i + W), Vec::load(a.weight + i + W)), Vec::load(x + i + W), d1);
    }
    for (; i < C; i += W) {
      const auto m = Vec::tail(C - i);
      const F gw = Vec::mul(Vec::load(g + i, m, Vec::zero()), Vec::load(a.weight + i, m, Vec::zero()));
      d0 = Vec::fmadd(gw, Vec::load(x + i, m, Vec::zero()), d0);
    }
    const float dot = Vec::reduce_add(Vec::add(d0, d1));
    const F vk = Vec::set1(-dot * r * r * r / static_cast<float>(C)), vr = Vec::set1(r);
    for (i = 0; i < C; i += W) {
      const auto m = Vec::tail(C - i);
      const F gv = Vec::load(g + i, m, Vec::zero()), xv = Vec::load(x + i, m, Vec::zero());
      const F wv = Vec::load(a.weight + i, m, Vec::zero());
      const F dxv = Vec::add(Vec::load(dx + i, m, Vec::zero()), Vec::fmadd(Vec::mul(vr, wv), gv, Vec::mul(vk, xv)));
      Vec::store(dx + i, m, dxv);
      Vec::store(partial + i, m, Vec::fmadd(Vec::mul(gv, xv), vr, Vec::load(partial + i, m, Vec::zero())));
    }
  }
}

}  // namespace rmsnorm_simd
}  // namespace

void STEPRL_SIMD_ENTRY(rmsnorm_forward_rows)(const RmsnormForwardArgs& a, int64_t begin, int64_t end) {
  rmsnorm_simd::forward_rows<Vec>(a, begin, end);
}
void STEPRL_SIMD_ENTRY(rmsnorm_backward_rows)(const RmsnormBackwardArgs& a, float* partial, int64_t begin, int64_t end) {
  rmsnorm_simd::backward_rows<Vec>(a, partial, begin, end);
}
