// selftest_harness.h: host-side helpers for selftest.cu: checks, a seeded PRNG, device buffers.
//
// EXPECT counts failures instead of stopping; Device<T> owns a cudaMalloc buffer and copies
// std::vectors in and out through STEPRL_CUDA_CHECK; expect_launch_error asserts that a launch
// throws with a given phrase and leaves no error pending. Valid for g++ (simulator) and nvcc.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "../common.cuh"

static int g_failures = 0;
#define EXPECT(cond, ...)                                                   \
  do {                                                                      \
    if (!(cond)) {                                                          \
      ++g_failures;                                                         \
      std::fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                    \
      std::fputc('\n', stderr);                                             \
    }                                                                       \
  } while (0)

struct Rng {  // splitmix64
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  float uniform(float lo, float hi) { return lo + (hi - lo) * static_cast<float>(next() >> 40) / 16777216.0f; }
};

template <typename T>
struct Device {
  T* ptr = nullptr;
  size_t n;
  explicit Device(size_t count) : n(count) { STEPRL_CUDA_CHECK(cudaMalloc(&ptr, n * sizeof(T))); }
  explicit Device(const std::vector<T>& host) : Device(host.size()) { upload(host); }
  ~Device() { cudaFree(ptr); }
  void upload(const std::vector<T>& host) {
    STEPRL_CUDA_CHECK(cudaMemcpy(ptr, host.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  void zero() { STEPRL_CUDA_CHECK(cudaMemset(ptr, 0, n * sizeof(T))); }
  std::vector<T> download() const {
    std::vector<T> host(n);
    STEPRL_CUDA_CHECK(cudaMemcpy(host.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
};

static std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Rng rng{seed};
  std::vector<float> v(n);
  for (auto& x : v) x = rng.uniform(lo, hi);
  return v;
}

static bool close(double got, double want, double tolerance) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= tolerance * (1.0 + std::fabs(want));
}

// Runs `launch`, which must throw a runtime_error whose message contains `needle`.
template <typename F>
static void expect_launch_error(const char* what, const char* needle, F launch) {
  try {
    launch();
    EXPECT(false, "%s: no error raised", what);
  } catch (const std::runtime_error& e) {
    if (std::getenv("STEPRL_SELFTEST_VERBOSE")) std::printf("  expected error (%s): %s\n", what, e.what());
    EXPECT(std::strstr(e.what(), needle) != nullptr, "%s: message lacks '%s': %s", what, needle, e.what());
  }
  EXPECT(cudaGetLastError() == cudaSuccess, "%s: error left pending after the throw", what);
}
