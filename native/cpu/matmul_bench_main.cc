// matmul_bench_main.cc: standalone check and benchmark for steprl::cpu::sgemm (matmul.h).
//
// 1. Correctness: every SIMD level x 4 transpose modes x odd shapes (1, 7, 33, 129, 511, ...) x
//    alpha/beta, with padded leading dimensions whose padding holds NaN (must never be read),
//    against a float64 naive loop; error is scaled by sqrt(K) * max|a| * max|b|.
// 2. Determinism: 1, 2 and 3 threads must give bit-identical C.
// 3. Speed: median GFLOP/s over repeated calls for the transformer shapes, next to PyTorch's
//    torch.mm on the same shapes, run by /usr/bin/python3 in the same process run.
// Build: g++ -O3 -std=c++17 -pthread native/cpu/matmul*.cc native/cpu/parallel.cc \
//          native/cpu/simd.cc -o /tmp/mm && /tmp/mm [--no-torch] [--quick]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "matmul.h"
#include "parallel.h"
#include "simd.h"

using steprl::cpu::sgemm;

namespace {

uint64_t rng_state = 0x9E3779B97F4A7C15ull;
float uniform() {  // xorshift64*, in [-1, 1)
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return static_cast<float>((rng_state * 2685821657736338717ull) >> 40) / 8388608.0f - 1.0f;
}

struct Problem {
  bool ta, tb;
  int64_t M, N, K, lda, ldb, ldc;
  float alpha, beta;
  std::vector<float> A, B, C0;  // C0: C before the call
};

// Fills the logical part of each matrix with uniform values and the padding with NaN.
Problem make_problem(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                     int64_t pad) {
  Problem p{ta, tb, M, N, K, 0, 0, 0, alpha, beta, {}, {}, {}};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const int64_t a_rows = ta ? K : M, a_cols = ta ? M : K;
  const int64_t b_rows = tb ? N : K, b_cols = tb ? K : N;
  p.lda = a_cols + pad;
  p.ldb = b_cols + pad;
  p.ldc = N + pad;
  p.A.assign(a_rows * p.lda, nan);
  p.B.assign(b_rows * p.ldb, nan);
  p.C0.assign(M * p.ldc, nan);
  for (int64_t r = 0; r < a_rows; ++r)
    for (int64_t c = 0; c < a_cols; ++c) p.A[r * p.lda + c] = uniform();
  for (int64_t r = 0; r < b_rows; ++r)
    for (int64_t c = 0; c < b_cols; ++c) p.B[r * p.ldb + c] = uniform();
  if (beta != 0.0f)  // beta == 0 keeps NaN in C: it must not leak into the result
    for (int64_t r = 0; r < M; ++r)
      for (int64_t c = 0; c < N; ++c) p.C0[r * p.ldc + c] = uniform();
  return p;
}

std::vector<float> run(const Problem& p) {
  std::vector<float> C = p.C0;
  sgemm(p.ta, p.tb, p.M, p.N, p.K, p.alpha, p.A.data(), p.lda, p.B.data(), p.ldb, p.beta,
        C.data(), p.ldc);
  return C;
}

// Max over C of |C - ref| / (sqrt(K) |alpha| + |beta|), which is the usual sqrt(K) max|a| max|b|
// scale since all inputs lie in [-1, 1]; the padding of C must still hold NaN. Returns +inf on any NaN or touched padding.
double check(const Problem& p, const std::vector<float>& C) {
  double worst = 0.0;
  const double scale = std::sqrt(static_cast<double>(std::max<int64_t>(p.K, 1))) *
                           std::fabs(p.alpha) + std::fabs(p.beta) + 1e-30;
  for (int64_t i = 0; i < p.M; ++i) {
    for (int64_t j = 0; j < p.N; ++j) {
      double ref = 0.0;
      for (int64_t k = 0; k < p.K && p.alpha != 0.0f; ++k) {
        const double a = p.ta ? p.A[k * p.lda + i] : p.A[i * p.lda + k];
        const double b = p.tb ? p.B[j * p.ldb + k] : p.B[k * p.ldb + j];
        ref += a * b;
      }
      ref *= p.alpha;
      if (p.beta != 0.0f) ref += static_cast<double>(p.beta) * p.C0[i * p.ldc + j];
      const double err = std::fabs(C[i * p.ldc + j] - ref) / scale;
      if (!(err <= 1.0)) return INFINITY;  // NaN lands here too
      worst = std::max(worst, err);
    }
    for (int64_t j = p.N; j < p.ldc; ++j)
      if (!std::isnan(C[i * p.ldc + j])) return INFINITY;
  }
  return worst;
}

const char* mode_name(bool ta, bool tb) { return ta ? (tb ? "TT" : "TN") : (tb ? "NT" : "NN"); }

int test_correctness() {
  const int64_t sizes[][3] = {{1, 1, 1},     {1, 7, 33},     {7, 1, 129},  {7, 33, 1},
                              {33, 129, 7},  {129, 33, 511}, {5, 65, 17},  {13, 95, 64},
                              {64, 64, 64},  {100, 200, 300}, {511, 129, 33}, {257, 511, 1025},
                              {6, 64, 513},  {1, 1000, 600},  {999, 1, 70},   {2100, 70, 9}};
  const float alphas_betas[][2] = {{1.0f, 0.0f}, {0.5f, 1.0f}, {-1.5f, 0.25f}, {1.0f, 1.0f}};
  int failures = 0;
  const steprl::cpu::SimdLevel best = steprl::cpu::simd_supported();
  for (int level = 0; level <= static_cast<int>(best); ++level) {
    steprl::cpu::set_simd_level(static_cast<steprl::cpu::SimdLevel>(level));
    double worst = 0.0;
    int cases = 0;
    for (const auto& s : sizes)
      for (int mode = 0; mode < 4; ++mode)
        for (int ab = 0; ab < 4; ++ab) {
          const bool ta = mode & 2, tb = mode & 1;
          const int64_t pad = (mode + ab) % 3 == 0 ? 0 : 3 + ab;
          Problem p = make_problem(ta, tb, s[0], s[1], s[2], alphas_betas[ab][0],
                                   alphas_betas[ab][1], pad);
          const double err = check(p, run(p));
          ++cases;
          worst = std::max(worst, err);
          if (err > 1e-5) {
            ++failures;
            std::printf("FAIL %s %s M=%lld N=%lld K=%lld alpha=%g beta=%g pad=%lld err=%g\n",
                        steprl::cpu::simd_name(steprl::cpu::simd_level()), mode_name(ta, tb),
                        (long long)s[0], (long long)s[1], (long long)s[2], alphas_betas[ab][0],
                        alphas_betas[ab][1], (long long)pad, err);
          }
        }
    // K == 0 and alpha == 0: C = beta * C, A and B (here NaN) never read.
    for (float beta : {0.0f, 2.0f}) {
      Problem p = make_problem(false, false, 9, 11, 5, 0.0f, beta, 1);
      std::fill(p.A.begin(), p.A.end(), NAN);
      worst = std::max(worst, check(p, run(p)));
      Problem q = make_problem(true, true, 9, 11, 0, 1.0f, beta, 2);
      worst = std::max(worst, check(q, run(q)));
      cases += 2;
    }
    std::printf("correctness %-6s: %d cases, max scaled error %.3g %s\n",
                steprl::cpu::simd_name(steprl::cpu::simd_level()), cases, worst,
                worst <= 1e-5 ? "ok" : "FAILED");
    if (worst > 1e-5) ++failures;
  }
  steprl::cpu::set_simd_level(best);
  return failures;
}

int test_determinism() {
  const int64_t sizes[][3] = {{1024, 256, 256}, {511, 129, 1100}, {37, 1000, 2000}, {300, 77, 5}};
  int failures = 0, cases = 0;
  for (const auto& s : sizes)
    for (int mode = 0; mode < 4; ++mode) {
      Problem p = make_problem(mode & 2, mode & 1, s[0], s[1], s[2], 0.75f, 0.5f, 1);
      steprl::cpu::set_num_threads(1);
      const std::vector<float> one = run(p);
      for (int threads : {2, 3}) {
        steprl::cpu::set_num_threads(threads);
        const std::vector<float> many = run(p);
        ++cases;
        if (std::memcmp(one.data(), many.data(), one.size() * sizeof(float)) != 0) {
          ++failures;
          std::printf("NONDETERMINISTIC %s M=%lld N=%lld K=%lld threads=%d\n",
                      mode_name(mode & 2, mode & 1), (long long)s[0], (long long)s[1],
                      (long long)s[2], threads);
        }
      }
    }
  steprl::cpu::set_num_threads(2);
  std::printf("determinism: %d comparisons (1 thread vs 2 and 3), %s\n", cases,
              failures == 0 ? "bit-identical" : "FAILED");
  return failures;
}

struct BenchShape {
  const char* what;
  bool ta, tb;
  int64_t M, N, K;
  float beta;
  int threads;
};

const BenchShape kBench[] = {
    {"square", false, false, 512, 512, 512, 0.0f, 1},
    {"square", false, false, 512, 512, 512, 0.0f, 2},
    {"square", false, true, 512, 512, 512, 0.0f, 2},
    {"square", true, false, 512, 512, 512, 0.0f, 2},
    {"square", true, true, 512, 512, 512, 0.0f, 2},
    {"square", false, false, 1024, 1024, 1024, 0.0f, 2},
    // forward out[BT,OC] = inp[BT,C] W[OC,C]^T : M=BT, N=OC, K=C
    {"fwd", false, true, 1024, 256, 256, 0.0f, 2},
    {"fwd", false, true, 1024, 1024, 256, 0.0f, 2},
    {"fwd", false, true, 1024, 256, 1024, 0.0f, 2},
    {"fwd", false, true, 4096, 256, 256, 0.0f, 2},
    {"fwd", false, true, 4096, 1024, 1024, 0.0f, 2},
    {"fwd lm-head", false, true, 1024, 8192, 256, 0.0f, 2},
    // dinp[BT,C] += dout[BT,OC] W[OC,C] : M=BT, N=C, K=OC
    {"dinp", false, false, 1024, 256, 256, 1.0f, 2},
    {"dinp", false, false, 1024, 256, 1024, 1.0f, 2},
    {"dinp", false, false, 1024, 1024, 256, 1.0f, 2},
    {"dinp", false, false, 4096, 256, 256, 1.0f, 2},
    {"dinp lm-head", false, false, 1024, 256, 8192, 1.0f, 2},
    // dW[OC,C] += dout[BT,OC]^T inp[BT,C] : M=OC, N=C, K=BT
    {"dW", true, false, 256, 256, 1024, 1.0f, 2},
    {"dW", true, false, 1024, 256, 1024, 1.0f, 2},
    {"dW", true, false, 256, 1024, 1024, 1.0f, 2},
    {"dW", true, false, 256, 256, 4096, 1.0f, 2},
    {"dW", true, false, 1024, 1024, 4096, 1.0f, 2},
    {"dW lm-head", true, false, 8192, 256, 1024, 1.0f, 2},
};
constexpr int kBenchCount = sizeof(kBench) / sizeof(kBench[0]);

double flops(const BenchShape& s) { return 2.0 * s.M * s.N * s.K; }

// Median GFLOP/s of repeated calls, after a warm-up, ~0.4 s per shape.
double bench_ours(const BenchShape& s) {
  steprl::cpu::set_num_threads(s.threads);
  Problem p = make_problem(s.ta, s.tb, s.M, s.N, s.K, 1.0f, s.beta, 0);
  std::vector<float> C = p.C0;
  auto call = [&] {
    sgemm(p.ta, p.tb, p.M, p.N, p.K, 1.0f, p.A.data(), p.lda, p.B.data(), p.ldb, s.beta,
          C.data(), p.ldc);
  };
  for (int i = 0; i < 3; ++i) call();
  const int reps = static_cast<int>(std::clamp(4e10 / flops(s), 10.0, 400.0));
  std::vector<double> seconds;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    call();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(seconds.begin(), seconds.begin() + reps / 2, seconds.end());
  steprl::cpu::set_num_threads(2);
  return flops(s) / seconds[reps / 2] * 1e-9;
}

// Same shapes and timing rule in PyTorch (torch.mm / addmm_ on transposed views).
void bench_torch(double* gflops) {
  std::string script =
      "import time, torch\n"
      "torch.manual_seed(0)\n"
      "for line in '''";
  for (const BenchShape& s : kBench) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%d %d %lld %lld %lld %g %d\n", s.ta, s.tb, (long long)s.M,
                  (long long)s.N, (long long)s.K, s.beta, s.threads);
    script += buf;
  }
  script +=
      "'''.strip().split('\\n'):\n"
      "  ta, tb, M, N, K, beta, th = line.split(); ta, tb, M, N, K, th = map(int, (ta, tb, M, N, K, th))\n"
      "  torch.set_num_threads(th)\n"
      "  a = torch.rand(K, M).t() if ta else torch.rand(M, K)\n"
      "  b = torch.rand(N, K).t() if tb else torch.rand(K, N)\n"
      "  c = torch.rand(M, N)\n"
      "  f = (lambda: c.addmm_(a, b)) if float(beta) != 0 else (lambda: torch.mm(a, b, out=c))\n"
      "  for _ in range(3): f()\n"
      "  reps = int(min(max(4e10 / (2.0 * M * N * K), 10), 400)); ts = []\n"
      "  for _ in range(reps):\n"
      "    t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)\n"
      "  ts.sort(); print(2.0 * M * N * K / ts[reps // 2] * 1e-9, flush=True)\n";
  FILE* f = std::fopen("/tmp/steprl_mm_bench.py", "w");
  if (f == nullptr) return;
  std::fputs(script.c_str(), f);
  std::fclose(f);
  FILE* pipe = popen("/usr/bin/python3 /tmp/steprl_mm_bench.py 2>/dev/null", "r");
  if (pipe == nullptr) return;
  for (int i = 0; i < kBenchCount; ++i)
    if (std::fscanf(pipe, "%lf", &gflops[i]) != 1) break;
  pclose(pipe);
}

}  // namespace

int main(int argc, char** argv) {
  bool torch = true, quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-torch") == 0) torch = false;
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
  }
  int failures = 0;
  if (!quick) failures += test_correctness();
  if (!quick) failures += test_determinism();

  std::printf("\nsimd level %s; GFLOP/s, median of repeated calls\n",
              steprl::cpu::simd_name(steprl::cpu::simd_level()));
  double ours[kBenchCount], theirs[kBenchCount];
  for (int i = 0; i < kBenchCount; ++i) {
    ours[i] = bench_ours(kBench[i]);
    theirs[i] = NAN;
  }
  if (torch) bench_torch(theirs);
  std::printf("%-13s %-4s %5s %5s %5s %4s %3s %8s %8s %6s\n", "shape", "mode", "M", "N", "K",
              "beta", "thr", "steprl", "torch", "ratio");
  for (int i = 0; i < kBenchCount; ++i) {
    const BenchShape& s = kBench[i];
    std::printf("%-13s %-4s %5lld %5lld %5lld %4g %3d %8.1f %8.1f %6.2f\n", s.what,
                mode_name(s.ta, s.tb), (long long)s.M, (long long)s.N, (long long)s.K, s.beta,
                s.threads, ours[i], theirs[i], ours[i] / theirs[i]);
  }
  return failures == 0 ? 0 : 1;
}
