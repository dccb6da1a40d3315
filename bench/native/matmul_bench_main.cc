// matmul_bench_main.cc: standalone check and benchmark for steprl::cpu::sgemm (matmul.h).
//
// 1. Correctness: every SIMD level x 4 transpose modes x odd shapes (1, 7, 33, 129, 511, ...) x
//    alpha/beta, with padded leading dimensions whose padding holds NaN (must never be read),
//    against a float64 naive loop; error is scaled by sqrt(K) * max|a| * max|b|.
// 2. Determinism: 1, 2 and 3 threads must give bit-identical C, also with two caller threads
//    running sgemm at once and with sgemm called from inside a pool task.
// 3. Speed: median GFLOP/s over repeated calls for the transformer shapes, each shape timed back
//    to back with PyTorch's torch.mm (a /usr/bin/python3 child process) on the same shapes.
// Build (one line; the isa_*.cc files hold every family's SIMD kernels, attention's need attention.cc):
//   g++ -O3 -std=c++17 -pthread native/cpu/matmul.cc native/cpu/isa_avx2.cc native/cpu/isa_avx512.cc
//   native/cpu/attention.cc bench/native/matmul_bench_main.cc native/cpu/parallel.cc
//   native/cpu/simd.cc -o /tmp/mm && /tmp/mm [--no-torch] [--quick] [--only ROW]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "../../native/cpu/matmul.h"
#include "../../native/cpu/parallel.h"
#include "../../native/cpu/simd.h"

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
// scale since all inputs lie in [-1, 1]; the padding of C must still hold NaN. Returns +inf on
// any NaN or touched padding.
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
                              {6, 64, 513},  {1, 1000, 600},  {999, 1, 70},   {2100, 70, 9},
                              {5, 4200, 1100}};
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
          if (err > 1e-5)
            std::printf("FAIL %s %s M=%lld N=%lld K=%lld alpha=%g beta=%g pad=%lld err=%g\n",
                        steprl::cpu::simd_name(steprl::cpu::simd_level()), mode_name(ta, tb),
                        (long long)s[0], (long long)s[1], (long long)s[2], alphas_betas[ab][0],
                        alphas_betas[ab][1], (long long)pad, err);
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

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
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
        if (!same_bits(one, many)) {
          ++failures;
          std::printf("NONDETERMINISTIC %s M=%lld N=%lld K=%lld threads=%d\n",
                      mode_name(mode & 2, mode & 1), (long long)s[0], (long long)s[1],
                      (long long)s[2], threads);
        }
      }
    }
  // Concurrent callers (AsyncWorkers) and a call nested in a pool task (which runs inline).
  Problem p = make_problem(true, false, 300, 200, 700, 1.0f, 1.0f, 0);
  Problem q = make_problem(false, true, 100, 500, 900, 1.0f, 0.0f, 2);
  steprl::cpu::set_num_threads(2);
  const std::vector<float> p_ref = run(p), q_ref = run(q);
  std::vector<float> p_out[4], q_out[4];
  std::thread other([&] { for (auto& out : q_out) out = run(q); });
  for (auto& out : p_out) out = run(p);
  other.join();
  steprl::cpu::parallel_for(2, 1, [&](int64_t begin, int64_t) {
    if (begin == 0) p_out[0] = run(p); else q_out[0] = run(q);
  });
  for (int i = 0; i < 4; ++i, cases += 2)
    failures += !same_bits(p_out[i], p_ref) + !same_bits(q_out[i], q_ref);
  // A few rows of C against a large transposed B take the swapped path (C^T = B A^T, matmul.cc):
  // they must be bit-identical to the same rows of a taller C, which takes the blocked path.
  for (int mode : {1, 3})
    for (float beta : {0.0f, 0.5f})
      for (int64_t rows : {1, 7, 64}) {
        Problem tall = make_problem(mode & 2, true, 200, 3000, 700, 1.0f, beta, 2);
        const std::vector<float> full = run(tall);
        Problem few = tall;
        few.M = rows;
        few.C0.resize(rows * tall.ldc);
        const std::vector<float> part = run(few);
        ++cases;
        if (std::memcmp(part.data(), full.data(), part.size() * sizeof(float)) != 0) {
          ++failures;
          std::printf("SWAPPED PATH DIFFERS %s rows=%lld beta=%g\n", mode_name(mode & 2, true),
                      (long long)rows, beta);
        }
      }
  std::printf("determinism: %d comparisons (1 thread vs 2, 3; concurrent, nested calls; few rows vs "
              "the same rows of a tall C), %s\n",
              cases, failures == 0 ? "bit-identical" : "FAILED");
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
    {"512^3", false, false, 512, 512, 512, 0.0f, 1}, {"512^3", false, true, 512, 512, 512, 0.0f, 1},
    {"512^3", true, false, 512, 512, 512, 0.0f, 1},  {"512^3", true, true, 512, 512, 512, 0.0f, 1},
    {"512^3", false, false, 512, 512, 512, 0.0f, 2}, {"512^3", false, true, 512, 512, 512, 0.0f, 2},
    {"512^3", true, false, 512, 512, 512, 0.0f, 2},  {"512^3", true, true, 512, 512, 512, 0.0f, 2},
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
    // Qwen2.5-0.5B at 4 x 256 tokens (d=896, kv=128, F=4864 with gate|up fused to 9728)
    {"q fwd", false, true, 1024, 896, 896, 0.0f, 2},
    {"kv fwd", false, true, 1024, 128, 896, 0.0f, 2},
    {"gu fwd", false, true, 1024, 9728, 896, 0.0f, 2},
    {"down fwd", false, true, 1024, 896, 4864, 0.0f, 2},
    {"lmh fwd", false, true, 1024, 4096, 896, 0.0f, 2},
    {"q dinp", false, false, 1024, 896, 896, 1.0f, 2},
    {"gu dinp", false, false, 1024, 896, 9728, 1.0f, 2},
    {"down dinp", false, false, 1024, 4864, 896, 1.0f, 2},
    {"lmh dinp", false, false, 1024, 896, 4096, 1.0f, 2},
    {"q dW", true, false, 896, 896, 1024, 1.0f, 2},
    {"kv dW", true, false, 128, 896, 1024, 1.0f, 2},
    {"gu dW", true, false, 9728, 896, 1024, 1.0f, 2},
    {"down dW", true, false, 896, 4864, 1024, 1.0f, 2},
    {"lmh dW", true, false, 4096, 896, 1024, 1.0f, 2},
    // Decode steps (one token per row): Qwen2.5-0.5B's layers and lm_head (V = 151936) at 8, 64 and
    // 128 rows, and the d=512 model's lm_head: where sgemm swaps the operands (M <= 128).
    {"dec q", false, true, 64, 896, 896, 0.0f, 2},
    {"dec gu", false, true, 64, 9728, 896, 0.0f, 2},
    {"dec down", false, true, 64, 896, 4864, 0.0f, 2},
    {"dec lmh", false, true, 64, 151936, 896, 0.0f, 2},
    {"dec lmh d512", false, true, 64, 151936, 512, 0.0f, 2},
    {"dec gu", false, true, 8, 9728, 896, 0.0f, 2},
    {"dec lmh", false, true, 8, 151936, 896, 0.0f, 2},
    {"dec gu", false, true, 32, 9728, 896, 0.0f, 2},
    {"dec gu", false, true, 128, 9728, 896, 0.0f, 2},
    {"dec lmh", false, true, 128, 151936, 896, 0.0f, 2},
};

double flops(const BenchShape& s) { return 2.0 * s.M * s.N * s.K; }

// The machine may be shared, and another process's burst halves a 2-thread GEMM. Calls are
// timed in windows of ~50 ms; a window counts only if the rest of the machine (all busy CPU time
// minus this process's own, from /proc) used under 10% of it. The result is the median over
// clean windows' calls (all windows, marked noisy, if none was clean within ~8 s).
struct Load { long long busy = 0, total = 0, self = 0; };

Load read_load() {
  Load load;
  if (FILE* f = std::fopen("/proc/stat", "r")) {
    long long v[8] = {};
    if (std::fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3],
                    &v[4], &v[5], &v[6], &v[7]) == 8) {
      load.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
      load.total = load.busy + v[3] + v[4];
    }
    std::fclose(f);
  }
  if (FILE* f = std::fopen("/proc/self/stat", "r")) {  // fields 14, 15: utime, stime
    char buf[1024] = {};
    buf[std::fread(buf, 1, sizeof buf - 1, f)] = 0;
    long long utime = 0, stime = 0;
    const char* p = std::strrchr(buf, ')');  // the command name may hold spaces
    if (p && std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &utime,
                         &stime) == 2)
      load.self = utime + stime;
    std::fclose(f);
  }
  return load;
}

struct Timing { double gflops; bool clean; };

Timing bench_ours(const BenchShape& s) {
  steprl::cpu::set_num_threads(s.threads);
  Problem p = make_problem(s.ta, s.tb, s.M, s.N, s.K, 1.0f, s.beta, 0);
  std::vector<float> C = p.C0;
  auto call = [&] {
    sgemm(p.ta, p.tb, p.M, p.N, p.K, 1.0f, p.A.data(), p.lda, p.B.data(), p.ldb, s.beta,
          C.data(), p.ldc);
  };
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < 3; ++i) call();
  const size_t want = static_cast<size_t>(std::clamp(4e10 / flops(s), 10.0, 400.0));
  std::vector<double> clean, all;
  const auto deadline = clock::now() + std::chrono::seconds(8);
  while (clean.size() < want && clock::now() < deadline) {
    std::vector<double> window;
    const Load before = read_load();
    const auto start = clock::now();
    while (window.empty() || clock::now() - start < std::chrono::milliseconds(50)) {
      const auto t0 = clock::now();
      call();
      window.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    }
    const Load after = read_load();
    const long long others = (after.busy - before.busy) - (after.self - before.self);
    all.insert(all.end(), window.begin(), window.end());
    if (others * 10 <= after.total - before.total)
      clean.insert(clean.end(), window.begin(), window.end());
  }
  steprl::cpu::set_num_threads(2);
  std::vector<double>& use = clean.empty() ? all : clean;
  std::nth_element(use.begin(), use.begin() + use.size() / 2, use.end());
  return {flops(s) / use[use.size() / 2] * 1e-9, !clean.empty()};
}

// The same shapes and timing rule in PyTorch (torch.mm / addmm_ on transposed views), served by
// one /usr/bin/python3 child that answers one "ta tb M N K beta threads" line at a time, so each
// shape is timed by both libraries back to back, under the same machine load.
const char kTorchScript[] = R"(
import ctypes, os, sys, time, torch
# torch.set_num_threads does not reach Debian's OpenBLAS (which torch.mm calls): set it directly.
blas = [l.split()[-1] for l in open('/proc/self/maps') if 'libopenblas' in l]
blas = ctypes.CDLL(blas[0]) if blas else None
def load():  # (busy, total) jiffies of the machine, and this process's own
  v = list(map(int, open('/proc/stat').readline().split()[1:9]))
  busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
  t = os.times()
  return busy, busy + v[3] + v[4], round((t.user + t.system) * os.sysconf('SC_CLK_TCK'))
for line in sys.stdin:
  ta, tb, M, N, K, beta, th = line.split(); ta, tb, M, N, K, th = map(int, (ta, tb, M, N, K, th))
  torch.set_num_threads(th)
  if blas is not None: blas.openblas_set_num_threads(th)
  a = torch.rand(K, M).t() if ta else torch.rand(M, K)
  b = torch.rand(N, K).t() if tb else torch.rand(K, N)
  c = torch.rand(M, N)
  f = (lambda: c.addmm_(a, b)) if float(beta) != 0 else (lambda: torch.mm(a, b, out=c))
  for _ in range(3): f()
  want = int(min(max(4e10 / (2.0 * M * N * K), 10), 400)); clean, every = [], []
  deadline = time.perf_counter() + 8
  while len(clean) < want and time.perf_counter() < deadline:
    window = []; b0 = load(); start = time.perf_counter()
    while not window or time.perf_counter() - start < 0.05:
      t0 = time.perf_counter(); f(); window.append(time.perf_counter() - t0)
    b1 = load(); every += window
    if ((b1[0] - b0[0]) - (b1[2] - b0[2])) * 10 <= b1[1] - b0[1]: clean += window
  use = sorted(clean or every)
  print(2.0 * M * N * K / use[len(use) // 2] * 1e-9, 1 if clean else 0, flush=True)
)";

class TorchChild {
 public:
  TorchChild() {
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(to_child[0], 0);
      dup2(from_child[1], 1);
      close(to_child[1]);
      close(from_child[0]);
      execl("/usr/bin/python3", "python3", "-c", kTorchScript, static_cast<char*>(nullptr));
      _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    in_ = fdopen(to_child[1], "w");
    out_ = fdopen(from_child[0], "r");
  }
  ~TorchChild() {
    if (in_ != nullptr) std::fclose(in_);  // EOF on stdin ends the child's loop
    if (out_ != nullptr) std::fclose(out_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  Timing bench(const BenchShape& s) {
    Timing timing{NAN, false};
    if (in_ == nullptr || out_ == nullptr) return timing;
    std::fprintf(in_, "%d %d %lld %lld %lld %g %d\n", s.ta, s.tb, (long long)s.M, (long long)s.N,
                 (long long)s.K, s.beta, s.threads);
    std::fflush(in_);
    int clean = 0;
    if (std::fscanf(out_, "%lf %d", &timing.gflops, &clean) != 2) timing.gflops = NAN;
    timing.clean = clean != 0;
    return timing;
  }

 private:
  pid_t pid_ = -1;
  FILE* in_ = nullptr;
  FILE* out_ = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
  bool torch = true, quick = false;
  long only = -1;  // --only I: benchmark row I alone
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-torch") == 0) torch = false;
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = std::atol(argv[++i]);
  }
  int failures = 0;
  if (!quick) failures += test_correctness();
  if (!quick) failures += test_determinism();

  // Each shape: ours, torch, ours, torch; the better of the two medians of each is reported
  // (a busy neighbour only ever makes a run slower). '*' marks a median with no clean window.
  std::printf("\nsimd level %s; GFLOP/s = best of 2 medians, interleaved with torch\n",
              steprl::cpu::simd_name(steprl::cpu::simd_level()));
  std::printf("%-13s %-4s %5s %5s %5s %4s %3s %9s %9s %6s\n", "shape", "mode", "M", "N", "K",
              "beta", "thr", "steprl", "torch", "ratio");
  TorchChild* child = torch ? new TorchChild() : nullptr;
  for (const BenchShape& s : kBench) {
    if (only >= 0 && &s - kBench != only) continue;
    Timing ours{0.0, false}, theirs{torch ? 0.0 : NAN, false};
    for (int round = 0; round < 2; ++round) {
      const Timing a = bench_ours(s);
      if (a.gflops > ours.gflops) ours = a;
      if (child != nullptr) {
        const Timing b = child->bench(s);
        if (b.gflops > theirs.gflops || std::isnan(theirs.gflops)) theirs = b;
      }
    }
    std::printf("%-13s %-4s %5lld %5lld %5lld %4g %3d %8.1f%c %8.1f%c %6.2f\n", s.what,
                mode_name(s.ta, s.tb), (long long)s.M, (long long)s.N, (long long)s.K, s.beta,
                s.threads, ours.gflops, ours.clean ? ' ' : '*', theirs.gflops,
                theirs.clean || !torch ? ' ' : '*', ours.gflops / theirs.gflops);
    std::fflush(stdout);
  }
  delete child;
  return failures == 0 ? 0 : 1;
}
