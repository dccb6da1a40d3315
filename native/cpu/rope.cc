// rope.cc: rotary embeddings (rope.h). cos/sin are computed once per distinct position into a
// table (positions repeat across the rows of a batch), then every row is rotated head by head
// with loops the compiler vectorizes; the kernel is a single streaming pass, bounded by memory.
#include "rope.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "parallel.h"

namespace steprl::cpu {

void rope_inverse_frequencies(float* inv_freq, int64_t D, double theta) {
  const float base = static_cast<float>(theta);
  for (int64_t i = 0; i < D / 2; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(D);
    const float power = static_cast<float>(std::pow(static_cast<double>(base), static_cast<double>(exponent)));
    inv_freq[i] = 1.0f / power;
  }
}

namespace {

// sign = +1 rotates by +a (forward), -1 by -a (backward).
void rope_apply(float* out, const float* inp, const int32_t* positions, int64_t N, int64_t heads, int64_t D,
                double theta, const float* given_inv_freq, float sign) {
  if (N <= 0 || heads <= 0 || D <= 0) return;
  const int64_t half = D / 2;
  std::vector<float> inv_freq(static_cast<size_t>(half));
  if (given_inv_freq != nullptr) std::copy(given_inv_freq, given_inv_freq + half, inv_freq.begin());
  else rope_inverse_frequencies(inv_freq.data(), D, theta);
  // Table rows: one per position in [lo, hi] when that range is no longer than N, else one per row.
  int32_t lo = positions[0], hi = positions[0];
  for (int64_t n = 1; n < N; ++n) {
    lo = std::min(lo, positions[n]);
    hi = std::max(hi, positions[n]);
  }
  const bool by_position = static_cast<int64_t>(hi) - lo + 1 <= N;
  const int64_t table_rows = by_position ? static_cast<int64_t>(hi) - lo + 1 : N;
  std::vector<float> table(static_cast<size_t>(table_rows * D));  // row: cos[half], sign * sin[half]
  parallel_for(table_rows, std::max<int64_t>(1, 1024 / std::max<int64_t>(half, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float position = static_cast<float>(by_position ? lo + r : positions[r]);
      float* cs = table.data() + r * D;
      for (int64_t i = 0; i < half; ++i) {
        const double angle = static_cast<double>(position * inv_freq[i]);  // the fp32 product, as HF
        cs[i] = static_cast<float>(std::cos(angle));
        cs[half + i] = sign * static_cast<float>(std::sin(angle));
      }
    }
  });
  const int64_t width = heads * D;
  parallel_for(N, std::max<int64_t>(1, 8192 / std::max<int64_t>(width, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const float* cs = table.data() + (by_position ? positions[n] - lo : n) * D;
      const float* __restrict c = cs;
      const float* __restrict s = cs + half;
      for (int64_t h = 0; h < heads; ++h) {
        const float* x = inp + n * width + h * D;
        float* y = out + n * width + h * D;
        for (int64_t i = 0; i < half; ++i) {  // reads both halves before writing: y may be x
          const float x1 = x[i], x2 = x[half + i];
          y[i] = x1 * c[i] - x2 * s[i];
          y[half + i] = x2 * c[i] + x1 * s[i];
        }
      }
    }
  });
}

}  // namespace

void rope_forward_cpu(float* out, const float* inp, const int32_t* positions, int64_t N, int64_t heads, int64_t D,
                      double theta, const float* inv_freq) {
  rope_apply(out, inp, positions, N, heads, D, theta, inv_freq, 1.0f);
}

void rope_backward_cpu(float* dinp, const float* dout, const int32_t* positions, int64_t N, int64_t heads,
                       int64_t D, double theta, const float* inv_freq) {
  rope_apply(dinp, dout, positions, N, heads, D, theta, inv_freq, -1.0f);
}

}  // namespace steprl::cpu
