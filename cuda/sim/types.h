// types.h: the CUDA value types the simulator provides to kernels compiled by g++.
//
// dim3 / uint3 (launch geometry), the 8- and 16-byte vector types with their make_* helpers and
// natural alignment (so a float4 load through a misaligned pointer can be caught), and a minimal
// __nv_bfloat16: 16 raw bits, converted to float by widening and from float by round-to-nearest-
// even, NaN kept quiet. Layouts match CUDA's vector_types.h / cuda_bf16.h bit for bit.
#pragma once

#include <cstdint>
#include <cstring>

struct uint3 { unsigned int x, y, z; };

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(8) uint2 { unsigned int x, y; };
struct alignas(16) uint4 { unsigned int x, y, z, w; };
struct alignas(16) double2 { double x, y; };

inline float2 make_float2(float x, float y) { return float2{x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
inline int2 make_int2(int x, int y) { return int2{x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return int4{x, y, z, w}; }
inline uint2 make_uint2(unsigned int x, unsigned int y) { return uint2{x, y}; }
inline uint3 make_uint3(unsigned int x, unsigned int y, unsigned int z) { return uint3{x, y, z}; }
inline uint4 make_uint4(unsigned int x, unsigned int y, unsigned int z, unsigned int w) {
  return uint4{x, y, z, w};
}
inline double2 make_double2(double x, double y) { return double2{x, y}; }

// ---- bfloat16 -----------------------------------------------------------------------------------

struct __nv_bfloat16_raw { unsigned short x; };

struct alignas(2) __nv_bfloat16 {
  unsigned short __x;
  __nv_bfloat16() = default;
  __nv_bfloat16(__nv_bfloat16_raw r) : __x(r.x) {}
  operator __nv_bfloat16_raw() const { return __nv_bfloat16_raw{__x}; }
  inline __nv_bfloat16(float f);  // defined below: round to nearest even
  inline operator float() const;
};
typedef __nv_bfloat16 nv_bfloat16;

inline float __bfloat162float(__nv_bfloat16 h) {
  uint32_t bits = static_cast<uint32_t>(h.__x) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  __nv_bfloat16_raw r;
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    r.x = static_cast<unsigned short>((bits >> 16) | 0x0040u);  // NaN stays NaN (quieted)
  } else {
    // Add 0x7fff plus the lowest kept bit: ties go to the even neighbour, overflow becomes inf.
    bits += 0x7fffu + ((bits >> 16) & 1u);
    r.x = static_cast<unsigned short>(bits >> 16);
  }
  return __nv_bfloat16(r);
}

inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short x) { return __nv_bfloat16(__nv_bfloat16_raw{x}); }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }

inline __nv_bfloat16::__nv_bfloat16(float f) : __x(__float2bfloat16_rn(f).__x) {}
inline __nv_bfloat16::operator float() const { return __bfloat162float(*this); }
