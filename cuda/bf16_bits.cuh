// bf16_bits.cuh: float32 -> bfloat16 rounding on the bits, by the rule of include/steprl/cast.h
// (round to nearest even; a NaN keeps its sign and top payload bits and gets the quiet bit, so no
// NaN becomes inf; not __float2bfloat16_rn, whose NaN is the canonical 0x7fff). Shared by cast.cu
// and by the kernels that write a bf16 copy of their float32 result (rmsnorm.cu, swiglu.cu): a
// fused bf16 output has exactly the bits of the float32 output followed by ops.cast.
#pragma once

#include <cstdint>

#include "common.cuh"

namespace steprl::cuda {

#if defined(STEPRL_CUDA_SIM)
#define STEPRL_CHECK_ALIGNED_8(p)                                                               \
  do {                                                                                          \
    if (reinterpret_cast<std::uintptr_t>(p) % 8 != 0)                                           \
      ::steprl_sim::device_fault("misaligned 8-byte access at %p", static_cast<const void*>(p)); \
  } while (0)
#else
#define STEPRL_CHECK_ALIGNED_8(p) ((void)0)
#endif

// float32 bits -> bfloat16 bits (in the low 16).
__device__ __forceinline__ uint32_t narrow_bits(uint32_t x) {
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x007fffffu) != 0) return (x >> 16) | 0x0040u;
  return (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
}

__device__ __forceinline__ uint16_t narrow(float x) { return static_cast<uint16_t>(narrow_bits(__float_as_uint(x))); }

// Two bf16 in one 32-bit word, lo at the lower address.
__device__ __forceinline__ uint32_t narrow_pair(float lo, float hi) {
  return narrow_bits(__float_as_uint(lo)) | (narrow_bits(__float_as_uint(hi)) << 16);
}

// Four floats rounded to bf16 and stored as one 8-byte word (p 8-byte aligned).
__device__ __forceinline__ void store_bf16x4(uint16_t* p, float4 v) {
  STEPRL_CHECK_ALIGNED_8(p);
  *reinterpret_cast<uint2*>(p) = make_uint2(narrow_pair(v.x, v.y), narrow_pair(v.z, v.w));
}

}  // namespace steprl::cuda
