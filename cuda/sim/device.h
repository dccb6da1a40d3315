// device.h: the device-side CUDA language the simulator gives kernels compiled by g++.
//
// Execution-space qualifiers become no-ops, __shared__ becomes `static thread_local` (a block's
// fibers share one OS thread, and an OS thread runs one block at a time; rewrite.mjs registers each
// such variable so it is refilled with garbage per block), the built-in index
// variables read the current fiber, barriers and warp collectives call the fiber scheduler,
// atomics are real CPU atomics (blocks run on several OS threads), and the fast-math intrinsics
// map to their exact <cmath> counterparts (results can differ from a GPU by the intrinsic's ulps).
#pragma once

#include <math.h>

#include <cstdint>
#include <cstring>
#include <memory>  // before __noinline__ is defined: libstdc++'s shared_ptr uses __attribute__((__noinline__))
#include <type_traits>

#include "fiber.h"
#include "types.h"

#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
#define __shared__ static thread_local

// What g++ cannot keep of __launch_bounds__ and __shared__, the simulator build's source pass
// (cuda/sim/rewrite.mjs) spells out as these two calls; code compiled without that pass has neither
// check. STEPRL_SIM_KERNEL_BOUNDS(max_threads, ...) opens the body of a kernel with launch bounds:
// a block of more than max_threads threads fails the launch with cudaErrorLaunchOutOfResources
// before any thread runs the body. STEPRL_SIM_STATIC_SHARED(name) follows each static __shared__
// declaration: the first thread of a block to pass it fills the variable with 0xff (NaN) bytes, as
// a GPU leaves garbage, and counts its size into the block's static shared memory, which with the
// dynamic part must stay within the launch's limit (cudaErrorInvalidValue otherwise).
namespace steprl_sim {
void kernel_bounds(long long max_threads);
void static_shared(void* variable, std::size_t bytes, const char* name);
}  // namespace steprl_sim
#define STEPRL_SIM_KERNEL_BOUNDS(max_threads, ...) ::steprl_sim::kernel_bounds(static_cast<long long>(max_threads))
#define STEPRL_SIM_STATIC_SHARED(name) \
  ::steprl_sim::static_shared(static_cast<void*>(&(name)), sizeof(name), #name)

#define threadIdx (::steprl_sim::current_fiber()->thread_idx)
#define blockIdx (::steprl_sim::current_fiber()->view->block_idx)
#define blockDim (::steprl_sim::current_fiber()->view->block_dim)
#define gridDim (::steprl_sim::current_fiber()->view->grid_dim)
constexpr int warpSize = 32;

// ---- barriers and warp collectives --------------------------------------------------------------

inline void __syncthreads() { ::steprl_sim::block_barrier(::steprl_sim::current_fiber()); }
inline int __syncthreads_count(int predicate) {
  return ::steprl_sim::block_barrier_count(::steprl_sim::current_fiber(), predicate != 0);
}
inline int __syncthreads_and(int predicate) {
  auto* self = ::steprl_sim::current_fiber();
  const dim3 d = self->view->block_dim;
  return ::steprl_sim::block_barrier_count(self, predicate != 0) == static_cast<int>(d.x * d.y * d.z);
}
inline int __syncthreads_or(int predicate) { return __syncthreads_count(predicate) != 0; }

inline void __syncwarp(unsigned mask = 0xffffffffu) {
  ::steprl_sim::warp_exchange(::steprl_sim::current_fiber(), mask, ::steprl_sim::WarpOp::kSync, 0, 0);
}
inline unsigned __activemask() { return ::steprl_sim::warp_active_mask(::steprl_sim::current_fiber()); }
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return static_cast<unsigned>(::steprl_sim::warp_exchange(
      ::steprl_sim::current_fiber(), mask, ::steprl_sim::WarpOp::kBallot, predicate != 0, 0));
}
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) { return __ballot_sync(mask, !predicate) == 0; }

namespace steprl_sim {
// Source lane for one shuffle flavour; `lane` is the caller's lane, the segment is `width` lanes.
enum class ShuffleKind { kIndex, kUp, kDown, kXor };
inline unsigned shuffle_source(unsigned lane, int operand, int width, ShuffleKind kind) {
  if (width <= 0 || width > 32 || (width & (width - 1)) != 0) {
    device_fault("shuffle width %d is not a power of two in [1, 32]", width);
  }
  const int w = width, base = static_cast<int>(lane) & ~(w - 1), l = static_cast<int>(lane);
  int source = l;
  switch (kind) {
    case ShuffleKind::kIndex: source = base + (operand & (w - 1)); break;
    case ShuffleKind::kUp: source = l - operand >= base ? l - operand : l; break;
    case ShuffleKind::kDown: source = l + operand < base + w ? l + operand : l; break;
    case ShuffleKind::kXor: source = (l ^ (operand & 31)) < base + w ? l ^ (operand & 31) : l; break;
  }
  return static_cast<unsigned>(source);
}

template <typename T>
inline T shuffle(unsigned mask, T value, int operand, int width, ShuffleKind kind) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value,
                "__shfl_*_sync takes values of at most 8 bytes");
  FiberHeader* self = current_fiber();
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  bits = warp_exchange(self, mask, WarpOp::kShuffle, bits,
                       shuffle_source(self->lane, operand, width, kind));
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}
}  // namespace steprl_sim

template <typename T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
  return ::steprl_sim::shuffle(mask, var, src_lane, width, ::steprl_sim::ShuffleKind::kIndex);
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  return ::steprl_sim::shuffle(mask, var, static_cast<int>(delta), width, ::steprl_sim::ShuffleKind::kUp);
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  return ::steprl_sim::shuffle(mask, var, static_cast<int>(delta), width, ::steprl_sim::ShuffleKind::kDown);
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
  return ::steprl_sim::shuffle(mask, var, lane_mask, width, ::steprl_sim::ShuffleKind::kXor);
}

// ---- atomics (relaxed, like CUDA's; real CPU atomics because blocks run in parallel) ------------

namespace steprl_sim {
template <typename F, typename Bits, typename Op>
inline F atomic_float_update(F* address, Op op) {
  typedef Bits __attribute__((may_alias)) AliasBits;
  auto* word = reinterpret_cast<AliasBits*>(address);
  Bits old_bits = __atomic_load_n(word, __ATOMIC_RELAXED), new_bits;
  F old_value;
  do {
    std::memcpy(&old_value, &old_bits, sizeof(F));
    const F new_value = op(old_value);
    std::memcpy(&new_bits, &new_value, sizeof(F));
  } while (!__atomic_compare_exchange_n(word, &old_bits, new_bits, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED));
  return old_value;
}
}  // namespace steprl_sim

inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
inline float atomicAdd(float* p, float v) {
  return ::steprl_sim::atomic_float_update<float, std::uint32_t>(p, [v](float x) { return x + v; });
}
inline double atomicAdd(double* p, double v) {
  return ::steprl_sim::atomic_float_update<double, std::uint64_t>(p, [v](double x) { return x + v; });
}
inline int atomicSub(int* p, int v) { return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicSub(unsigned* p, unsigned v) { return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); }
template <typename T>
inline T steprl_sim_atomic_max(T* p, T v) {
  T old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (old < v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
  return old;
}
template <typename T>
inline T steprl_sim_atomic_min(T* p, T v) {
  T old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (v < old && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
  return old;
}
inline int atomicMax(int* p, int v) { return steprl_sim_atomic_max(p, v); }
inline unsigned atomicMax(unsigned* p, unsigned v) { return steprl_sim_atomic_max(p, v); }
inline int atomicMin(int* p, int v) { return steprl_sim_atomic_min(p, v); }
inline unsigned atomicMin(unsigned* p, unsigned v) { return steprl_sim_atomic_min(p, v); }
inline unsigned long long atomicMax(unsigned long long* p, unsigned long long v) { return steprl_sim_atomic_max(p, v); }
inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) { return steprl_sim_atomic_min(p, v); }
template <typename T>
inline T steprl_sim_atomic_cas(T* p, T compare, T value) {
  __atomic_compare_exchange_n(p, &compare, value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return compare;  // holds the old value either way
}
inline int atomicCAS(int* p, int c, int v) { return steprl_sim_atomic_cas(p, c, v); }
inline unsigned atomicCAS(unsigned* p, unsigned c, unsigned v) { return steprl_sim_atomic_cas(p, c, v); }
inline unsigned long long atomicCAS(unsigned long long* p, unsigned long long c, unsigned long long v) {
  return steprl_sim_atomic_cas(p, c, v);
}
inline int atomicExch(int* p, int v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicExch(unsigned* p, unsigned v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
inline float atomicExch(float* p, float v) {
  return ::steprl_sim::atomic_float_update<float, std::uint32_t>(p, [v](float) { return v; });
}

inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_signal_fence(__ATOMIC_SEQ_CST); }
[[noreturn]] inline void __trap() { ::steprl_sim::device_fault("__trap() called"); }

// ---- loads, bit casts, integer intrinsics ----------------------------------------------------

template <typename T>
inline T __ldg(const T* p) { return *p; }

inline float __int_as_float(int x) { float f; std::memcpy(&f, &x, 4); return f; }
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline float __uint_as_float(unsigned x) { float f; std::memcpy(&f, &x, 4); return f; }
inline unsigned __float_as_uint(float x) { unsigned u; std::memcpy(&u, &x, 4); return u; }
inline double __longlong_as_double(long long x) { double d; std::memcpy(&d, &x, 8); return d; }
inline long long __double_as_longlong(double x) { long long i; std::memcpy(&i, &x, 8); return i; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  return __builtin_bswap32(x);
}

// ---- floating point intrinsics (exact libm stand-ins for the GPU's approximations) --------------

inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return exp10f(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float* s, float* c) { *s = sinf(x); *c = cosf(x); }
inline float __fdividef(float x, float y) { return x / y; }
inline float fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __saturatef(float x) { return x != x ? 0.0f : fminf(fmaxf(x, 0.0f), 1.0f); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __drcp_rn(double x) { return 1.0 / x; }
inline double __dsqrt_rn(double x) { return sqrt(x); }
inline int __float2int_rn(float x) { return static_cast<int>(nearbyintf(x)); }
inline int __float2int_rz(float x) { return static_cast<int>(x); }
inline int __float2int_rd(float x) { return static_cast<int>(floorf(x)); }
inline int __float2int_ru(float x) { return static_cast<int>(ceilf(x)); }
inline float __int2float_rn(int x) { return static_cast<float>(x); }

// CUDA's min/max are overloaded for every arithmetic pair (floats via fminf/fmaxf semantics).
template <typename A, typename B,
          typename = std::enable_if_t<std::is_arithmetic<A>::value && std::is_arithmetic<B>::value>>
inline std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  if constexpr (std::is_floating_point<C>::value) return fmin(C(a), C(b));
  else return C(a) < C(b) ? C(a) : C(b);
}
template <typename A, typename B,
          typename = std::enable_if_t<std::is_arithmetic<A>::value && std::is_arithmetic<B>::value>>
inline std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  if constexpr (std::is_floating_point<C>::value) return fmax(C(a), C(b));
  else return C(a) < C(b) ? C(b) : C(a);
}
