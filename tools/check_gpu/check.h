// check.h: the harness of `npm run check:gpu` (tools/check_gpu): device buffers, deterministic
// random inputs, the GPU-vs-CPU comparison, CUDA-event timing and the rows of the report.
// Plain C++ (no CUDA header): device memory comes from cuda/device.h, events from timer.cu.
//
// Each kernel family is one function (families_model.cc, families_rl.cc) that, for every shape of
// the selected case classes, builds random inputs, runs the CPU kernel of native/cpu and the CUDA
// launcher of cuda/ on the same inputs, and records one Row per product: the worst element
// against |gpu - cpu| <= atol + rtol |cpu| and, in timed runs, the GPU time of one call.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "device.h"  // cuda/device.h

namespace steprl::check {

// ---- device buffers -------------------------------------------------------------------------

template <typename T>
struct Dev {
  std::shared_ptr<cuda::DeviceAllocation> mem;
  size_t n = 0;
  T* p() const { return mem ? mem->as<T>() : nullptr; }
  std::vector<T> get() const {  // device -> host, waits
    std::vector<T> h(n);
    if (n > 0) cuda::copy_to_host(h.data(), mem->data(), n * sizeof(T));
    return h;
  }
};

template <typename T>
Dev<T> up(const std::vector<T>& h) {
  Dev<T> d{cuda::allocate(h.size() * sizeof(T)), h.size()};
  if (!h.empty()) cuda::copy_to_device(d.mem->data(), h.data(), h.size() * sizeof(T));
  return d;
}

template <typename T>
Dev<T> dev_zeros(size_t n) {
  Dev<T> d{cuda::allocate(n * sizeof(T)), n};
  if (n > 0) cuda::fill_bytes(d.mem->data(), 0, n * sizeof(T));
  return d;
}

// ---- random inputs (splitmix64: the same inputs on every run and machine) -------------------

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9e3779b97f4a7c15ULL + 1) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  float uniform(float lo, float hi) { return lo + static_cast<float>(uniform()) * (hi - lo); }
  int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
  double normal() {  // Box-Muller
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t s_;
};

std::vector<float> uniform(Rng& rng, size_t n, float lo, float hi);
std::vector<float> normal(Rng& rng, size_t n, float sd);
std::vector<int32_t> integers(Rng& rng, size_t n, int64_t below);
// [R,T] 0/1 float mask: row i valid on a prefix of a random length in [min_len, T] (0 allowed).
std::vector<float> prefix_mask(Rng& rng, int64_t R, int64_t T, int64_t min_len);
std::vector<uint8_t> to_u8(const std::vector<float>& mask);
// bf16 bits of x (round to nearest even), and the float those bits stand for.
uint16_t bf16_bits(float x);
float bf16_value(uint16_t bits);

// ---- the report -----------------------------------------------------------------------------

struct Tol {
  double rtol, atol;
};

// atol as a fraction of the reference's largest finite magnitude (for sums whose terms cancel).
Tol scaled(const std::vector<float>& ref, double rtol, double fraction);

enum class Peak { none, fp32_fma, tensor_bf16, hbm };

struct Row {
  std::string family, op, shape, cls;  // cls: tiny | odd | realistic | sanitize
  int64_t elements = 0;                // output elements compared
  double max_abs = 0, max_rel = 0;     // worst |gpu - cpu| and |gpu - cpu| / |cpu| (over elements with cpu != 0)
  double worst = 0;                    // max |gpu - cpu| / (atol + rtol |cpu|): pass when <= 1
  Tol tol{0, 0};
  std::string worst_at;                // output name and index of `worst`
  bool pass = true;
  std::string note;                    // an error message, or what was compared exactly
  double ms = NAN;                     // GPU time of one call (CUDA events)
  double rate = NAN;                   // TFLOP/s (flops) or GB/s (bytes)
  std::string unit;                    // "TFLOP/s" | "GB/s"
  double peak = NAN;                   // the roofline it is compared with, same unit
  std::string peak_name;
};

// Facts of the device the harness runs on; peaks are NaN when unknown (the simulator).
struct DeviceFacts {
  std::string name;
  int major = 0, minor = 0, sms = 0;
  double clock_ghz = NAN, mem_clock_ghz = NAN;
  int bus_bits = 0;
  double fp32_tflops = NAN, bf16_tflops = NAN, hbm_gbps = NAN;
  bool simulated = false;
};
DeviceFacts device_facts();  // timer.cu

// Times fn on cuda::stream() with CUDA events: one warm-up call, then repeats until ~target_ms
// (at least 3, at most 200 calls); returns milliseconds per call.
double time_ms(const std::function<void()>& fn, double target_ms);  // timer.cu

class Ctx {
 public:
  bool tiny = true, odd = true, realistic = false, sanitize = false;
  bool timing = false;          // time the rows of realistic shapes
  bool trim = false;            // cuda::trim_cache() after every case (sanitizer runs)
  bool perturb = false;         // --perturb: corrupt every GPU output before comparing (must fail)
  DeviceFacts facts;
  std::vector<Row> rows;

  bool want(const std::string& cls) const {
    return (cls == "tiny" && tiny) || (cls == "odd" && odd) || (cls == "realistic" && realistic) ||
           (cls == "sanitize" && sanitize);
  }
  // A new row; compare() then fills it. The family name comes from the running check.
  Row& begin(const std::string& op, const std::string& shape, const std::string& cls);
  void compare(Row& row, const std::string& output, const std::vector<float>& gpu, const std::vector<float>& cpu, Tol tol);
  void compare_exact(Row& row, const std::string& output, const std::vector<int32_t>& gpu, const std::vector<int32_t>& cpu);
  void compare_scalar(Row& row, const std::string& output, double gpu, double cpu, Tol tol);
  // Times fn for `row` when timing is on and the row's class is realistic; flops or bytes give
  // the rate, `peak` which roofline it is compared with.
  void time(Row& row, const std::function<void()>& fn, double flops, double bytes, Peak peak);
  void end_case();  // trims the device cache in sanitizer runs

  std::string family;  // set by the runner
};

using Family = void (*)(Ctx&);
struct FamilyEntry {
  const char* name;
  Family run;
};
// Every family, in report order (families_model.cc, families_rl.cc).
std::vector<FamilyEntry> model_families();
std::vector<FamilyEntry> rl_families();

std::string shape_str(std::initializer_list<std::pair<const char*, int64_t>> dims);

}  // namespace steprl::check
