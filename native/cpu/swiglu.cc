// swiglu.cc: dispatch (SIMD level, threads) and the scalar implementation, the plain-loop
// statement of what swiglu_simd.inl vectorizes.
#include "swiglu.h"

#include <algorithm>
#include <cmath>

#include "parallel.h"
#include "simd.h"

namespace steprl::cpu {

void swiglu_forward_rows_scalar(float* out, const float* inp, int64_t F, int64_t begin, int64_t end) {
  for (int64_t n = begin; n < end; ++n) {
    const float* gate = inp + n * 2 * F;
    const float* up = gate + F;
    for (int64_t f = 0; f < F; ++f) {
      const float g = gate[f];
      out[n * F + f] = g / (1.0f + std::exp(-g)) * up[f];
    }
  }
}

void swiglu_backward_rows_scalar(float* dinp, const float* dout, const float* inp, int64_t F, int64_t begin,
                                 int64_t end) {
  for (int64_t n = begin; n < end; ++n) {
    const float* gate = inp + n * 2 * F;
    const float* up = gate + F;
    float* dgate = dinp + n * 2 * F;
    float* dup = dgate + F;
    for (int64_t f = 0; f < F; ++f) {
      const float g = gate[f], d = dout[n * F + f];
      const float s = 1.0f / (1.0f + std::exp(-g));
      dgate[f] = d * up[f] * s * (1.0f + g * (1.0f - s));
      dup[f] = d * g * s;
    }
  }
}

namespace {

int64_t grain_for(int64_t F) { return std::max<int64_t>(1, 8192 / std::max<int64_t>(F, 1)); }

}  // namespace

void swiglu_forward_cpu(float* out, const float* inp, int64_t N, int64_t F) {
  const SwigluForwardRows rows = STEPRL_SIMD_KERNEL(swiglu_forward_rows);
  parallel_for(N, grain_for(F), [&](int64_t begin, int64_t end) { rows(out, inp, F, begin, end); });
}

void swiglu_backward_cpu(float* dinp, const float* dout, const float* inp, int64_t N, int64_t F) {
  const SwigluBackwardRows rows = STEPRL_SIMD_KERNEL(swiglu_backward_rows);
  parallel_for(N, grain_for(F), [&](int64_t begin, int64_t end) { rows(dinp, dout, inp, F, begin, end); });
}

}  // namespace steprl::cpu
