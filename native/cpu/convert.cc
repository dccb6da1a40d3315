// convert.cc: the conversions of convert.h as plain bit manipulation the compiler vectorizes
// (bf16 widen and narrow are shifts and adds; f16 widen rebiases the exponent and normalizes
// subnormals through one float multiply, which is exact).
#include "convert.h"

#include <cstring>

#include "parallel.h"

namespace steprl::cpu {
namespace {

constexpr int64_t kGrain = int64_t{1} << 16;  // elements per task: 256 KiB of float32 output

inline uint32_t f16_to_f32_bits(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return sign | 0x7f800000u | (mantissa << 13);  // inf, NaN (payload kept)
  if (exponent != 0) return sign | ((exponent + 112u) << 23) | (mantissa << 13);
  // Zero or subnormal: mantissa * 2^-24, exact in float32.
  const float value = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return sign | bits;
}

inline uint16_t f32_to_bf16_bits(uint32_t x) {
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x007fffffu) != 0) return static_cast<uint16_t>((x >> 16) | 0x0040u);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace

void widen_to_float32_cpu(float* out, const uint16_t* inp, int64_t n, HalfFormat format) {
  parallel_for(task_count(n, kGrain), 1, [&](int64_t begin, int64_t end) {
    const int64_t lo = begin * kGrain, hi = end * kGrain < n ? end * kGrain : n;
    uint32_t* dst = reinterpret_cast<uint32_t*>(out);
    if (format == HalfFormat::bfloat16) {
      for (int64_t i = lo; i < hi; ++i) dst[i] = static_cast<uint32_t>(inp[i]) << 16;
    } else {
      for (int64_t i = lo; i < hi; ++i) dst[i] = f16_to_f32_bits(inp[i]);
    }
  });
}

void narrow_to_bfloat16_cpu(uint16_t* out, const float* inp, int64_t n) {
  parallel_for(task_count(n, kGrain), 1, [&](int64_t begin, int64_t end) {
    const int64_t lo = begin * kGrain, hi = end * kGrain < n ? end * kGrain : n;
    const uint32_t* src = reinterpret_cast<const uint32_t*>(inp);
    for (int64_t i = lo; i < hi; ++i) out[i] = f32_to_bf16_bits(src[i]);
  });
}

}  // namespace steprl::cpu
