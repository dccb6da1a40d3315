// selftest.cu: checks the SIMT simulator (and common.cuh) against plain CPU references.
//
// Build and run (from the repository root; see README.md):
//   g++ -std=c++17 -O2 -x c++ -DSTEPRL_CUDA_SIM -I cuda cuda/sim/selftest.cu -x none cuda/sim/*.cc -pthread -o selftest
//   ./selftest              all checks, exit 1 on any failure
//   ./selftest oob-write    (also oob-read, oob-shared, use-after-free): must die with a report
// `nvcc -arch=sm_90 -c cuda/sim/selftest.cu` compiles the same kernels as real CUDA.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "selftest_harness.h"
#include "selftest_kernels.cuh"
#include "selftest_tensor_core.cuh"

using namespace selftest;

static void test_block_reductions() {
  for (unsigned block : {32u, 96u, 128u, 256u, 608u, 1024u}) {
    for (int64_t C : {1, 31, 33, 1000, 4097}) {
      const int R = 3;
      const auto host = random_floats(R * C, 17 * block + C);
      Device<float> in(host), sums(R), maxes(R);
      STEPRL_LAUNCH(row_sum_max_kernel, R, block, 0, nullptr, sums.ptr, maxes.ptr, in.ptr, C);
      const auto s = sums.download(), m = maxes.download();
      for (int r = 0; r < R; ++r) {
        double want = 0, best = -INFINITY;
        for (int64_t c = 0; c < C; ++c) want += host[r * C + c], best = std::fmax(best, host[r * C + c]);
        EXPECT(close(s[r], want, 1e-5 * std::sqrt(double(C))), "block %u C %ld: sum %g vs %g", block, (long)C, s[r], want);
        EXPECT(m[r] == best, "block %u C %ld: max %g vs %g", block, (long)C, m[r], best);
      }
    }
  }
  const int64_t n = 100003;
  const auto host = random_floats(n, 5);
  Device<float> in(host), total(1);
  total.zero();
  STEPRL_LAUNCH(warp0_sum_kernel, 7, 192, 0, nullptr, total.ptr, in.ptr, n);
  double want = 0;
  for (float x : host) want += x;
  EXPECT(close(total.download()[0], want, 1e-4), "warp0 sum %g vs %g", total.download()[0], want);

  const int64_t R = 37, C = 101;
  const auto rows = random_floats(R * C, 9);
  Device<float> rows_d(rows);
  Device<double> sums(R);
  STEPRL_LAUNCH(warp_row_sum_double_kernel, ceil_div(R, 4), 128, 0, nullptr, sums.ptr, rows_d.ptr, R, C);
  const auto got = sums.download();
  for (int64_t r = 0; r < R; ++r) {
    double w = 0;
    for (int64_t c = 0; c < C; ++c) w += rows[r * C + c];
    EXPECT(close(got[r], w, 1e-12), "double row %ld: %g vs %g", (long)r, got[r], w);
  }
}

static void test_geometry_and_shared() {
  struct Case { dim3 grid, block; int check_warps; };
  for (const Case& k : {Case{dim3(3, 4, 5), dim3(8, 2, 4), 1}, Case{dim3(2, 1, 3), dim3(5, 3, 2), 0},
                        Case{dim3(1, 2, 1), dim3(16, 8, 8), 1}}) {
    const size_t total = size_t(k.grid.x) * k.grid.y * k.grid.z * k.block.x * k.block.y * k.block.z;
    Device<int> hits(total), errors(1);
    hits.zero();
    errors.zero();
    STEPRL_LAUNCH(geometry_kernel, k.grid, k.block, 0, nullptr, hits.ptr, errors.ptr, k.check_warps);
    int wrong = 0;
    for (int h : hits.download()) wrong += h != 1;
    EXPECT(wrong == 0 && errors.download()[0] == 0, "geometry: %d bad counts, %d warp errors", wrong, errors.download()[0]);
  }
  for (int n : {1000, 12288, 20000}) {
    const auto host = random_floats(size_t(n) * 3, n);
    Device<float> in(host), out(host.size());
    const size_t bytes = size_t(n) * sizeof(float);
    if (n == 20000) {
      expect_launch_error("80 KB dynamic shared without opt-in", "dynamic shared", [&] {
        STEPRL_LAUNCH(reverse_rows_kernel, 3, 256, bytes, nullptr, out.ptr, in.ptr, n);
      });
      STEPRL_CUDA_CHECK(cudaFuncSetAttribute(reverse_rows_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
    }
    STEPRL_LAUNCH(reverse_rows_kernel, 3, 256, bytes, nullptr, out.ptr, in.ptr, n);
    const auto got = out.download();
    int wrong = 0;
    for (int r = 0; r < 3; ++r)
      for (int i = 0; i < n; ++i) wrong += got[size_t(r) * n + i] != host[size_t(r) * n + n - 1 - i];
    EXPECT(wrong == 0, "reverse n=%d: %d wrong", n, wrong);
  }
}

static void test_atomics_and_barriers() {
  Device<int> count(1), best(1);
  Device<unsigned long long> wide(1);
  Device<float> fsum(1);
  Device<double> dsum(1);
  Device<unsigned> cas(1);
  count.zero(), best.zero(), wide.zero(), fsum.zero(), dsum.zero(), cas.zero();
  const int blocks = 1000, threads = 256, n = blocks * threads;
  STEPRL_LAUNCH(atomics_kernel, blocks, threads, 0, nullptr, count.ptr, wide.ptr, fsum.ptr, dsum.ptr, best.ptr, cas.ptr);
  EXPECT(count.download()[0] == n && wide.download()[0] == 2ull * n && fsum.download()[0] == float(n) &&
             dsum.download()[0] == 0.5 * n && best.download()[0] == n - 1 && cas.download()[0] == unsigned(n),
         "atomics: %d %llu %g %g %d %u", count.download()[0], wide.download()[0], fsum.download()[0],
         dsum.download()[0], best.download()[0], cas.download()[0]);

  std::vector<int> values(4 * 1024);
  Rng rng{3};
  for (auto& v : values) v = int(rng.next() % 100);
  Device<int> in(values), out(values.size());
  STEPRL_LAUNCH(scan_kernel, 4, 1024, 0, nullptr, out.ptr, in.ptr);
  auto got = out.download();
  int wrong = 0;
  for (int r = 0; r < 4; ++r) {
    int run = 0;
    for (int i = 0; i < 1024; ++i) wrong += got[r * 1024 + i] != (run += values[r * 1024 + i]);
  }
  EXPECT(wrong == 0, "scan: %d wrong", wrong);
  Device<int> sums(8), odds(8);
  STEPRL_LAUNCH(tree_sum_kernel, 8, 512, 0, nullptr, sums.ptr, odds.ptr, in.ptr);
  const auto s = sums.download(), o = odds.download();
  for (int b = 0; b < 8; ++b) {
    int want = 0, odd = 0;
    for (int i = 0; i < 512; ++i) want += values[b * 512 + i], odd += values[b * 512 + i] & 1;
    EXPECT(s[b] == want && o[b] == odd, "tree block %d: %d/%d vs %d/%d", b, s[b], o[b], want, odd);
  }
}

static void test_faults() {
  Device<float> out(1024);
  expect_launch_error("early exit", "early_exit_barrier_kernel", [&] {
    STEPRL_LAUNCH(early_exit_barrier_kernel, 4, 64, 0, nullptr, out.ptr);
  });
  expect_launch_error("uneven loop", "deadlocked", [&] {
    STEPRL_LAUNCH(uneven_loop_barrier_kernel, 2, 96, 0, nullptr, out.ptr);
  });
  // A kernel fault is sticky on a GPU: the error says the process must restart; a bad launch
  // configuration is not, and says nothing of the kind.
  expect_launch_error("fault is sticky on a GPU", "process must restart", [&] {
    STEPRL_LAUNCH(uneven_loop_barrier_kernel, 2, 96, 0, nullptr, out.ptr);
  });
  try {
    STEPRL_LAUNCH(early_exit_barrier_kernel, 0, 32, 0, nullptr, out.ptr);
    EXPECT(false, "zero grid: no error raised");
  } catch (const std::runtime_error& e) {
    EXPECT(std::strstr(e.what(), "restart") == nullptr, "a configuration error called sticky: %s", e.what());
  }
  EXPECT(cudaGetLastError() == cudaSuccess, "zero grid: error left pending");
#if defined(STEPRL_CUDA_SIM)  // what a GPU does here is undefined: these check the simulator's model
  {
    // Threads start (and leave barriers) in a seeded random order: a read that only a missing
    // __syncthreads makes wrong is caught, not hidden by thread 0 always running first.
    Device<float> got(4 * 64);
    STEPRL_LAUNCH(missing_barrier_kernel, 4, 64, sizeof(float), nullptr, got.ptr);
    int stale = 0;
    for (float x : got.download()) stale += x != 42.0f;
    EXPECT(stale > 0, "missing __syncthreads went unnoticed (STEPRL_SIM_ORDER=fifo?)");
    // Each block's dynamic shared memory starts as garbage (NaN), not as the last block's data.
    Device<float> tiles(6 * 32);
    STEPRL_LAUNCH(stale_shared_kernel, 6, 32, 32 * sizeof(float), nullptr, tiles.ptr);
    const auto t = tiles.download();
    int wrong = 0;
    for (int i = 0; i < 6 * 32; ++i) wrong += i < 32 ? t[i] != 1.0f : !std::isnan(t[i]);
    EXPECT(wrong == 0, "dynamic shared memory not refilled per block: %d wrong", wrong);
  }
#endif
  expect_launch_error("missing lane", "warp collective", [&] {
    STEPRL_LAUNCH(missing_lane_shuffle_kernel, 3, 128, 0, nullptr, out.ptr);
  });
  expect_launch_error("block too big", "invalid configuration", [&] {
    STEPRL_LAUNCH(early_exit_barrier_kernel, 1, 2048, 0, nullptr, out.ptr);
  });
  expect_launch_error("grid.y too big", "gridDim", [&] {
    STEPRL_LAUNCH(early_exit_barrier_kernel, dim3(1, 70000), 32, 0, nullptr, out.ptr);
  });
  expect_launch_error("block.z too big", "blockDim", [&] {
    STEPRL_LAUNCH(early_exit_barrier_kernel, 1, dim3(1, 1, 65), 0, nullptr, out.ptr);
  });
  expect_launch_error("zero grid", "invalid configuration", [&] {
    STEPRL_LAUNCH(early_exit_barrier_kernel, 0, 32, 0, nullptr, out.ptr);
  });
  expect_launch_error("too much shared", "dynamic shared", [&] {
    STEPRL_LAUNCH(early_exit_barrier_kernel, 1, 32, 100000, nullptr, out.ptr);
  });
#if defined(STEPRL_CUDA_SIM)
  {
    Device<float> small(1001);  // 4004 bytes: the off-by-one write lands in the canary slack
    expect_launch_error("write one past the end", "out of bounds", [&] {
      STEPRL_LAUNCH(oob_write_kernel, 1, 1, 0, nullptr, small.ptr, int64_t{1001});
    });
    std::vector<float> host(4096 + 8, 1.0f);
    Device<float> f(host), o(4096);
    Device<int> k(4096);
    Device<unsigned> u(4096);
    expect_launch_error("misaligned float4", "misaligned", [&] {
      STEPRL_LAUNCH(vector_load_kernel, 4, 256, 0, nullptr, o.ptr, f.ptr, k.ptr, u.ptr, int64_t{1});
    });
  }
  int* bogus = nullptr;
  EXPECT(cudaMalloc(&bogus, 64) == cudaSuccess, "cudaMalloc");
  std::vector<int> big(32);
  EXPECT(cudaMemcpy(bogus, big.data(), 65, cudaMemcpyHostToDevice) == cudaErrorInvalidValue, "oversized copy");
  EXPECT(cudaGetLastError() == cudaErrorInvalidValue && cudaGetLastError() == cudaSuccess, "last error");
  EXPECT(cudaMemset(bogus + 1, 0, 64) == cudaErrorInvalidValue, "oversized memset");
  EXPECT(cudaMemcpy(bogus + 1, bogus, 16, cudaMemcpyDeviceToDevice) == cudaErrorInvalidValue, "overlapping copy");
  EXPECT(cudaGetLastError() == cudaErrorInvalidValue, "overlapping copy: last error");
  EXPECT(cudaMemcpy(bogus + 4, bogus, 16, cudaMemcpyDeviceToDevice) == cudaSuccess, "adjacent copy");
  EXPECT(cudaFree(bogus + 1) == cudaErrorInvalidValue, "free of an interior pointer");
  EXPECT(cudaFree(bogus) == cudaSuccess, "free");
  try {
    STEPRL_CUDA_CHECK(cudaMemcpy(bogus, big.data(), 4, cudaMemcpyHostToDevice));
    EXPECT(false, "check did not throw");
  } catch (const std::runtime_error& e) {
    EXPECT(std::strstr(e.what(), "selftest.cu:") && std::strstr(e.what(), "invalid argument"), "message: %s", e.what());
  }
  {
    // set_sole_stream: what the steprl device layer relies on (one stream orders everything, so the
    // allocator may reuse a freed block at once); work on any other stream is refused.
    cudaStream_t sole = nullptr, other = nullptr;
    STEPRL_CUDA_CHECK(cudaStreamCreateWithFlags(&sole, cudaStreamNonBlocking));
    STEPRL_CUDA_CHECK(cudaStreamCreate(&other));
    Device<float> d(64);
    steprl_sim::set_sole_stream(sole);
    STEPRL_LAUNCH(oob_write_kernel, 1, 1, 0, sole, d.ptr, int64_t{0});
    expect_launch_error("launch on another stream", "one stream", [&] {
      STEPRL_LAUNCH(oob_write_kernel, 1, 1, 0, other, d.ptr, int64_t{0});
    });
    EXPECT(cudaMemsetAsync(d.ptr, 0, 4, other) == cudaErrorInvalidResourceHandle, "memset on another stream");
    EXPECT(cudaMemcpy(d.ptr, big.data(), 4, cudaMemcpyHostToDevice) == cudaErrorInvalidResourceHandle,
           "cudaMemcpy (legacy stream) while one stream is required");
    (void)cudaGetLastError();
    steprl_sim::set_sole_stream(nullptr);
    STEPRL_CUDA_CHECK(cudaStreamDestroy(sole));
    STEPRL_CUDA_CHECK(cudaStreamDestroy(other));
  }
  cudaDeviceProp props;
  STEPRL_CUDA_CHECK(cudaGetDeviceProperties(&props, 0));
  EXPECT(std::strcmp(props.name, "steprl SIMT simulator") == 0 && props.warpSize == 32, "props %s", props.name);
  int optin = 0;
  STEPRL_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0));
  EXPECT(size_t(optin) == props.sharedMemPerBlockOptin && optin >= 99 * 1024, "opt-in shared %d", optin);
  if (optin < 163 * 1024) {  // STEPRL_SIM_ARCH=sm_86 or sm_89: what an H100 allows is refused
    EXPECT(cudaFuncSetAttribute(reverse_rows_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 141952) ==
               cudaErrorInvalidValue, "141952 B granted on a 99 KiB architecture");
    (void)cudaGetLastError();
  }
#endif
  Device<float> after(4);
  STEPRL_LAUNCH(row_sum_max_kernel, 1, 32, 0, nullptr, after.ptr, after.ptr + 1, after.ptr, int64_t{0});
  EXPECT(after.download()[0] == 0.0f, "launch after faults: %g", after.download()[0]);
}

static double reference_lse(const float* row, int64_t V) {
  double m = -INFINITY, s = 0;
  for (int64_t v = 0; v < V; ++v) m = std::isnan(row[v]) || row[v] > m ? row[v] : m;
  if (std::isnan(m) || std::isinf(m)) return m;
  for (int64_t v = 0; v < V; ++v) s += std::exp(double(row[v]) - m);
  return m + std::log(s);
}

// Launch limits a GPU enforces that g++ would drop: __launch_bounds__, static + dynamic shared
// memory per block, and garbage in static shared memory at every block's start. They need the
// simulator build's source pass (cuda/sim/rewrite.mjs); a build without it skips this test.
static void test_launch_limits() {
#if defined(STEPRL_CUDA_SIM)
  Device<int> ones(256);
  STEPRL_LAUNCH(bounded_kernel, 4, 64, 0, nullptr, ones.ptr);  // exactly the bound: fine
  int set = 0;
  for (int x : ones.download()) set += x == 1;
  EXPECT(set == 256, "bounded_kernel at its bound: %d of 256 written", set);
  ones.zero();
  expect_launch_error("blockDim over __launch_bounds__", "bounded_kernel: blockDim (128,1,1) has 128 threads, more than "
                      "the kernel's __launch_bounds__ maxThreadsPerBlock 64", [&] {
    STEPRL_LAUNCH(bounded_kernel, 2, 128, 0, nullptr, ones.ptr);
  });
  int touched = 0;
  for (int x : ones.download()) touched += x != 0;
  EXPECT(touched == 0, "a refused launch ran %d threads", touched);
  try {
    STEPRL_LAUNCH(bounded_kernel, 1, 65, 0, nullptr, ones.ptr);
    EXPECT(false, "65 threads: no error raised");
  } catch (const std::runtime_error& e) {
    EXPECT(std::strstr(e.what(), "cudaErrorLaunchOutOfResources") != nullptr && std::strstr(e.what(), "restart") == nullptr,
           "65 threads: not a (non-sticky) cudaErrorLaunchOutOfResources: %s", e.what());
  }
  EXPECT(cudaGetLastError() == cudaSuccess, "bounds: error left pending");

  // 16 blocks on at most STEPRL_SIM_THREADS OS threads: most reuse an OS thread, and so the
  // thread_local array, of an earlier block; every one must still start from garbage.
  Device<unsigned> bits(16 * 64);
  STEPRL_LAUNCH(static_shared_garbage_kernel, 16, 64, 0, nullptr, bits.ptr);
  int stale = 0;
  for (unsigned b : bits.download()) stale += b != 0xffffffffu;
  EXPECT(stale == 0, "static __shared__ not refilled with garbage per block: %d of %d cells", stale, 16 * 64);

  // 32 KiB static: 16 KiB dynamic fits the default 48 KiB, 20 KiB does not, and once seen the
  // kernel's static size refuses the launch before it runs; opting in allows up to the arch's limit.
  Device<float> out(2);
  STEPRL_LAUNCH(big_static_shared_kernel, 2, 32, 16 * 1024, nullptr, out.ptr);
  EXPECT(out.download()[0] == 3.0f, "big_static_shared_kernel: %g", out.download()[0]);
  expect_launch_error("static + dynamic over 48 KiB", "big_static_shared_kernel: static + dynamic shared memory over the 48 KiB", [&] {
    STEPRL_LAUNCH(big_static_shared_kernel, 2, 32, 20 * 1024, nullptr, out.ptr);
  });
  expect_launch_error("static + dynamic over 48 KiB, known static", "an earlier launch of this kernel counted", [&] {
    STEPRL_LAUNCH(big_static_shared_kernel, 2, 32, 20 * 1024, nullptr, out.ptr);
  });
  int optin = 0;
  STEPRL_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0));
  const int room = optin - kBigStaticFloats * static_cast<int>(sizeof(float));
  STEPRL_CUDA_CHECK(cudaFuncSetAttribute(big_static_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, room + 1024));
  STEPRL_LAUNCH(big_static_shared_kernel, 2, 32, room, nullptr, out.ptr);
  EXPECT(out.download()[1] == 3.0f, "big_static_shared_kernel at the opt-in limit: %g", out.download()[1]);
  expect_launch_error("static + dynamic over the opt-in limit", "over the limit", [&] {
    STEPRL_LAUNCH(big_static_shared_kernel, 2, 32, room + 1024, nullptr, out.ptr);
  });
#endif
}

static void test_logsumexp() {
  const int64_t R = 64, V = 4999;
  auto logits = random_floats(R * V, 11, -8.0f, 8.0f);
  for (int64_t v = 0; v < V; ++v) {
    logits[1 * V + v] = -INFINITY;                          // empty row: -inf
    if (v % 2) logits[2 * V + v] = -INFINITY;               // half masked
    logits[3 * V + v] += 1000.0f;                           // large: needs the max shift
  }
  logits[4 * V + 17] = INFINITY;
  logits[5 * V + 99] = NAN;
  Device<float> in(logits), out(R), out_warp(R);
  const auto start = std::chrono::steady_clock::now();
  STEPRL_LAUNCH(logsumexp_block_kernel, R, 256, 0, nullptr, out.ptr, in.ptr, V);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("  logsumexp [64, 4999], 256 threads/row: %.1f ms\n", ms);
  STEPRL_LAUNCH(logsumexp_warp_kernel, ceil_div(R, 8), 256, 0, nullptr, out_warp.ptr, in.ptr, R, V);
  const auto got = out.download(), got_warp = out_warp.download();
  for (int64_t r = 0; r < R; ++r) {
    const double want = reference_lse(&logits[r * V], V);
    EXPECT(close(got[r], want, 1e-6) && close(got_warp[r], want, 1e-6), "lse row %ld: %g %g vs %g", (long)r,
           got[r], got_warp[r], want);
  }
}

static void test_shuffles_bf16_vectors() {
  const int threads = 128;
  Device<int> out(threads * 7);
  STEPRL_LAUNCH(shuffle_kernel, 2, 64, 0, nullptr, out.ptr);
  const auto got = out.download();
  for (int t = 0; t < threads; ++t) {
    const int lane = t % 32, base = t - lane;
    auto value = [&](int l) { return (base + l) * 10; };
    unsigned ballot = 0;
    for (int l = 0; l < 32; l += 3) ballot |= 1u << l;
    const int want[7] = {value(lane % 8 < 7 ? lane + 1 : lane), value(lane % 16 >= 3 ? lane - 3 : lane), value(7),
                         value(lane ^ 2), int(ballot), 1, 0};
    for (int j = 0; j < 7; ++j) EXPECT(got[t * 7 + j] == want[j], "shuffle t %d op %d: %d vs %d", t, j, got[t * 7 + j], want[j]);
  }

  // bf16: every pattern survives a round trip; random floats round to the nearest, ties to even.
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const float f = __bfloat162float(__ushort_as_bfloat16(static_cast<unsigned short>(bits)));
    const unsigned short back = __bfloat16_as_ushort(__float2bfloat16(f));
    EXPECT(std::isnan(f) ? (back & 0x7fff) > 0x7f80 : back == bits, "bf16 %04x -> %04x", bits, back);
    if (g_failures > 20) return;
  }
  Rng rng{99};
  std::vector<float> x(100000);
  for (size_t i = 0; i < x.size(); ++i) {
    uint32_t b = static_cast<uint32_t>(rng.next());
    if (i % 4 == 0) b = (b & 0xffff0000u) | 0x8000u;  // exact ties
    if (i == 1) b = 0x7f7fffffu;                     // largest float: rounds to inf
    std::memcpy(&x[i], &b, 4);
  }
  Device<float> xd(x), yd(x.size());
  Device<__nv_bfloat16> packed(x.size());
  STEPRL_LAUNCH(bf16_kernel, ceil_div(int64_t(x.size()), 256), 256, 0, nullptr, yd.ptr, packed.ptr, xd.ptr, int64_t(x.size()));
  const auto y = yd.download();
  int wrong = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    uint32_t b, r;
    std::memcpy(&b, &x[i], 4);
    std::memcpy(&r, &y[i], 4);
    if (std::isnan(x[i])) { wrong += !std::isnan(y[i]); continue; }
    const uint32_t lower = b & 0xffff0000u, upper = lower + 0x10000u;
    auto value = [](uint32_t v) {
      if ((v & 0x7f800000u) == 0x7f800000u) return std::copysign(std::ldexp(1.0, 128), (v >> 31) ? -1.0 : 1.0);
      float f; std::memcpy(&f, &v, 4); return double(f);
    };
    const double dl = std::fabs(double(x[i]) - value(lower)), du = std::fabs(value(upper) - double(x[i]));
    const uint32_t want = dl < du ? lower : du < dl ? upper : ((lower >> 16) & 1) ? upper : lower;
    wrong += r != want;
  }
  EXPECT(wrong == 0, "bf16 rounding: %d of %zu wrong", wrong, x.size());

  std::vector<float> f(4096 + 8);
  std::vector<int> k(4096);
  std::vector<unsigned> u(4096);
  for (int i = 0; i < 4096; ++i) f[i] = 0.5f * i, k[i] = -i, u[i] = 2u * i;
  Device<float> fd(f), od(4096);
  Device<int> kd(k);
  Device<unsigned> ud(u);
  STEPRL_LAUNCH(vector_load_kernel, 4, 256, 0, nullptr, od.ptr, fd.ptr, kd.ptr, ud.ptr, int64_t{0});
  const auto o = od.download();
  wrong = 0;
  for (int i = 0; i < 4096; ++i) wrong += o[i] != 0.5f * i - i + 2.0f * i;
  EXPECT(wrong == 0, "vector loads: %d wrong", wrong);
}

static void test_host_threads_and_timing() {
  auto worker = [](uint64_t seed, int* errors) {
    const int R = 50, C = 333;
    const auto host = random_floats(R * C, seed);
    Device<float> in(host), sums(R), maxes(R);
    for (int i = 0; i < 10; ++i) {
      STEPRL_LAUNCH(row_sum_max_kernel, R, 64, 0, nullptr, sums.ptr, maxes.ptr, in.ptr, int64_t{C});
      const auto s = sums.download();
      double want = 0;
      for (int c = 0; c < C; ++c) want += host[c];
      *errors += !close(s[0], want, 1e-5);
    }
  };
  int errors[2] = {0, 0};
  std::thread a(worker, 1, &errors[0]), b(worker, 2, &errors[1]);
  a.join();
  b.join();
  EXPECT(errors[0] + errors[1] == 0, "host threads: %d %d", errors[0], errors[1]);

  const int blocks = 10000, threads = 256;
  const auto host = random_floats(size_t(blocks) * threads, 123);
  Device<float> in(host), sums(blocks);
  for (int round = 0; round < 2; ++round) {
    const auto start = std::chrono::steady_clock::now();
    STEPRL_LAUNCH(block_sum_kernel, blocks, threads, 0, nullptr, sums.ptr, in.ptr);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("  block_reduce_sum, %d blocks x %d threads: %.1f ms%s\n", blocks, threads, ms, round ? "" : " (cold)");
  }
  const auto s = sums.download();
  int wrong = 0;
  for (int b = 0; b < blocks; ++b) {
    double want = 0;
    for (int t = 0; t < threads; ++t) want += host[size_t(b) * threads + t];
    wrong += !close(s[b], want, 1e-5);
  }
  EXPECT(wrong == 0, "timed block sums: %d wrong", wrong);
}

// Modes that must kill the process with an out-of-bounds report (the caller checks the exit).
static int run_crash_mode(const std::string& mode) {
  Device<float> buffer(1000), out(256);
  if (mode == "oob-write") STEPRL_LAUNCH(oob_write_kernel, 1, 32, 0, nullptr, buffer.ptr, int64_t{1100});
  else if (mode == "oob-read") STEPRL_LAUNCH(oob_read_kernel, 1, 1, 0, nullptr, out.ptr, buffer.ptr, int64_t{-100});
  else if (mode == "oob-shared") STEPRL_LAUNCH(oob_shared_kernel, 2, 64, 100 * sizeof(float), nullptr, out.ptr, 100);
  else if (mode == "use-after-free") {
    float* freed = nullptr;
    STEPRL_CUDA_CHECK(cudaMalloc(&freed, 4096));
    STEPRL_CUDA_CHECK(cudaFree(freed));
    STEPRL_LAUNCH(oob_write_kernel, 1, 1, 0, nullptr, freed, int64_t{3});
  } else {
    std::fprintf(stderr, "unknown mode %s (oob-write, oob-read, oob-shared, use-after-free)\n", mode.c_str());
    return 2;
  }
  cudaDeviceSynchronize();
  std::fprintf(stderr, "selftest %s: expected a crash, but the kernel ran to completion\n", mode.c_str());
  return 3;
}

int main(int argc, char** argv) {
  try {
    if (argc > 1) return run_crash_mode(argv[1]);
    const auto start = std::chrono::steady_clock::now();
    test_block_reductions();
    test_geometry_and_shared();
    test_atomics_and_barriers();
    test_faults();
    test_launch_limits();
    test_logsumexp();
    test_shuffles_bf16_vectors();
    test_tensor_core();
    test_host_threads_and_timing();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("selftest: %s (%d failures, %.2f s)\n", g_failures ? "FAILED" : "ok", g_failures, s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "selftest: unexpected exception: %s\n", e.what());
    return 1;
  }
  return g_failures ? 1 : 0;
}
