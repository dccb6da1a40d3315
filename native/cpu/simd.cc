// simd.cc: CPU feature detection (cpuid via the compiler's builtins) and the level override.
#include "simd.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#if defined(_MSC_VER) && defined(_M_X64)
#include <intrin.h>
#include <immintrin.h>
#endif

namespace steprl::cpu {
namespace {

SimdLevel detect() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return SimdLevel::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SimdLevel::avx2;
  return SimdLevel::scalar;
#elif defined(_MSC_VER) && defined(_M_X64)
  int info[4];
  __cpuid(info, 0);
  if (info[0] < 7) return SimdLevel::scalar;
  __cpuid(info, 1);
  bool osxsave = (info[2] & (1 << 27)) != 0, fma = (info[2] & (1 << 12)) != 0;
  if (!osxsave) return SimdLevel::scalar;
  unsigned long long xcr0 = _xgetbv(0);
  __cpuidex(info, 7, 0);
  bool avx2 = (info[1] & (1 << 5)) != 0;
  bool avx512 = (info[1] & (1 << 16)) && (info[1] & (1 << 17)) && (info[1] & (1 << 30)) &&
                (info[1] & (1u << 31));
  if (avx512 && (xcr0 & 0xE6) == 0xE6) return SimdLevel::avx512;
  if (avx2 && fma && (xcr0 & 0x6) == 0x6) return SimdLevel::avx2;
  return SimdLevel::scalar;
#else
  return SimdLevel::scalar;
#endif
}

SimdLevel supported_level() {
  static const SimdLevel level = detect();
  return level;
}

SimdLevel initial_level() {
  SimdLevel level = supported_level();
  if (const char* env = std::getenv("STEPRL_SIMD")) {
    SimdLevel want = level;
    if (std::strcmp(env, "scalar") == 0) want = SimdLevel::scalar;
    else if (std::strcmp(env, "avx2") == 0) want = SimdLevel::avx2;
    else if (std::strcmp(env, "avx512") == 0) want = SimdLevel::avx512;
    if (static_cast<int>(want) < static_cast<int>(level)) level = want;
  }
  return level;
}

std::atomic<int>& current() {
  static std::atomic<int> level{static_cast<int>(initial_level())};
  return level;
}

}  // namespace

SimdLevel simd_supported() { return supported_level(); }

SimdLevel simd_level() { return static_cast<SimdLevel>(current().load(std::memory_order_relaxed)); }

void set_simd_level(SimdLevel level) {
  int want = static_cast<int>(level), best = static_cast<int>(supported_level());
  current().store(want < best ? want : best);
}

const char* simd_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::avx512: return "avx512";
    case SimdLevel::avx2: return "avx2";
    default: return "scalar";
  }
}

}  // namespace steprl::cpu
