// swiglu_simd.inl: the SwiGLU kernels written once over the vector type `Vec` of the including ISA
// translation unit (simd_kernels.inl); swiglu.cc states them as plain loops.
// e^-g comes from Vec::exp (Cephes, about 1 ulp; its argument clamp to [-87, 88] keeps s finite:
// s underflows to ~1e-38 instead of 0 for g < -88, where silu(g) and its slope are ~0 anyway).

namespace {
namespace swiglu_simd {

template <typename Vec>
typename Vec::F sigmoid(typename Vec::F g) {
  const typename Vec::F one = Vec::set1(1.0f);
  return Vec::div(one, Vec::add(one, Vec::exp(Vec::neg(g))));
}

template <typename Vec>
void forward_rows(float* out, const float* inp, int64_t F, int64_t begin, int64_t end) {
  using F_ = typename Vec::F;
  constexpr int W = Vec::kWidth;
  for (int64_t n = begin; n < end; ++n) {
    const float* gate = inp + n * 2 * F;
    const float* up = gate + F;
    float* y = out + n * F;
    int64_t f = 0;
    for (; f + W <= F; f += W) {
      const F_ g = Vec::load(gate + f);
      Vec::store(y + f, Vec::mul(Vec::mul(g, sigmoid<Vec>(g)), Vec::load(up + f)));
    }
    if (f < F) {
      const auto m = Vec::tail(F - f);
      const F_ g = Vec::load(gate + f, m, Vec::zero());
      Vec::store(y + f, m, Vec::mul(Vec::mul(g, sigmoid<Vec>(g)), Vec::load(up + f, m, Vec::zero())));
    }
  }
}

template <typename Vec>
void backward_span(float* dgate, float* dup, const float* gate, const float* up, const float* dout,
                   typename Vec::Mask m) {
  using F_ = typename Vec::F;
  const F_ one = Vec::set1(1.0f);
  const F_ g = Vec::load(gate, m, Vec::zero()), u = Vec::load(up, m, Vec::zero());
  const F_ d = Vec::load(dout, m, Vec::zero());
  const F_ s = sigmoid<Vec>(g);
  const F_ slope = Vec::mul(s, Vec::fmadd(g, Vec::sub(one, s), one));  // s * (1 + g * (1 - s))
  Vec::store(dgate, m, Vec::mul(Vec::mul(d, u), slope));
  Vec::store(dup, m, Vec::mul(d, Vec::mul(g, s)));
}

template <typename Vec>
void backward_rows(float* dinp, const float* dout, const float* inp, int64_t F, int64_t begin, int64_t end) {
  constexpr int W = Vec::kWidth;
  for (int64_t n = begin; n < end; ++n) {
    const float* gate = inp + n * 2 * F;
    float* dgate = dinp + n * 2 * F;
    const float* d = dout + n * F;
    for (int64_t f = 0; f < F; f += W)
      backward_span<Vec>(dgate + f, dgate + F + f, gate + f, gate + F + f, d + f, Vec::tail(F - f));
  }
}

}  // namespace swiglu_simd
}  // namespace

void STEPRL_SIMD_ENTRY(swiglu_forward_rows)(float* out, const float* inp, int64_t F, int64_t begin, int64_t end) {
  swiglu_simd::forward_rows<Vec>(out, inp, F, begin, end);
}
void STEPRL_SIMD_ENTRY(swiglu_backward_rows)(float* dinp, const float* dout, const float* inp, int64_t F, int64_t begin,
                                             int64_t end) {
  swiglu_simd::backward_rows<Vec>(dinp, dout, inp, F, begin, end);
}
