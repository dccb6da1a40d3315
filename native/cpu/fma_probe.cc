// fma_probe.cc: the FMA peak probe (fma_probe.h). Each thread runs kChains independent
// multiply-add chains x = x * m + b over registers of the active SIMD level; the chains never
// touch memory, so the rate is the FMA units' (latency 4 x 2 ports = 8 chains in flight on
// current x86 cores; 12 leave headroom).
#include "fma_probe.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "parallel.h"
#include "simd.h"

#if defined(STEPRL_X86)
#include <immintrin.h>
#endif

namespace steprl::cpu {
namespace {

constexpr int kChains = 12;

float chains_scalar(int64_t iters, float seed) {
  float x[kChains];
  for (int c = 0; c < kChains; ++c) x[c] = seed + static_cast<float>(c);
  for (int64_t i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) x[c] = std::fma(x[c], 0.9999999f, 1e-7f);
  float s = 0.0f;
  for (int c = 0; c < kChains; ++c) s += x[c];
  return s;
}

#if defined(STEPRL_X86) && defined(__GNUC__)
#define STEPRL_CHAINS(SET1, FMADD, ADD, W, TYPE)                                     \
  TYPE x0 = SET1(seed), x1 = SET1(seed + 1), x2 = SET1(seed + 2), x3 = SET1(seed + 3); \
  TYPE x4 = SET1(seed + 4), x5 = SET1(seed + 5), x6 = SET1(seed + 6), x7 = SET1(seed + 7); \
  TYPE x8 = SET1(seed + 8), x9 = SET1(seed + 9), x10 = SET1(seed + 10), x11 = SET1(seed + 11); \
  const TYPE m = SET1(0.9999999f), b = SET1(1e-7f);                                  \
  for (int64_t i = 0; i < iters; ++i) {                                              \
    x0 = FMADD(x0, m, b); x1 = FMADD(x1, m, b); x2 = FMADD(x2, m, b); x3 = FMADD(x3, m, b);   \
    x4 = FMADD(x4, m, b); x5 = FMADD(x5, m, b); x6 = FMADD(x6, m, b); x7 = FMADD(x7, m, b);   \
    x8 = FMADD(x8, m, b); x9 = FMADD(x9, m, b); x10 = FMADD(x10, m, b); x11 = FMADD(x11, m, b); \
  }                                                                                  \
  TYPE s = ADD(ADD(ADD(x0, x1), ADD(x2, x3)), ADD(ADD(x4, x5), ADD(x6, x7)));      \
  s = ADD(s, ADD(ADD(x8, x9), ADD(x10, x11)));                                       \
  float lanes[W];                                                                    \
  __builtin_memcpy(lanes, &s, sizeof lanes);                                         \
  float total = 0.0f;                                                                \
  for (int l = 0; l < W; ++l) total += lanes[l];                                     \
  return total;

__attribute__((target("avx512f"))) float chains_avx512(int64_t iters, float seed) {
  STEPRL_CHAINS(_mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, 16, __m512)
}
__attribute__((target("avx2,fma"))) float chains_avx2(int64_t iters, float seed) {
  STEPRL_CHAINS(_mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, 8, __m256)
}
#undef STEPRL_CHAINS
#endif

volatile float g_sink = 0.0f;  // keeps the chains' results (and so the work) alive

}  // namespace

double probe_fma_peak(double milliseconds, int repeats) {
  float (*chains)(int64_t, float) = chains_scalar;
  int width = 1;
#if defined(STEPRL_X86) && defined(__GNUC__)
  switch (simd_level()) {
    case SimdLevel::avx512: chains = chains_avx512, width = 16; break;
    case SimdLevel::avx2: chains = chains_avx2, width = 8; break;
    default: break;
  }
#endif
  const int64_t threads = num_threads();
  // Calibrate the iteration count on one thread to about the time asked for.
  int64_t iters = 1 << 16;
  using Clock = std::chrono::steady_clock;
  for (;;) {
    const auto t0 = Clock::now();
    g_sink = g_sink + chains(iters, 1.0f);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (ms >= milliseconds / 4 || iters >= (int64_t{1} << 40)) {
      iters = static_cast<int64_t>(static_cast<double>(iters) * milliseconds / std::max(ms, 1e-3));
      break;
    }
    iters *= 4;
  }
  iters = std::max<int64_t>(iters, 1);
  double best = 0.0;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    parallel_for(threads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) g_sink = g_sink + chains(iters, 1.0f + static_cast<float>(t));
    });
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const double flops = 2.0 * kChains * width * static_cast<double>(iters) * static_cast<double>(threads);
    best = std::max(best, flops / seconds / 1e9);
  }
  return best;
}

}  // namespace steprl::cpu
