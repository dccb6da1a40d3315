// simd.h: runtime choice of the instruction set the CPU kernels use.
//
// A family's vectorized kernels are written once (<family>_simd.inl, over a vector type `Vec`) and
// compiled once per level in one translation unit per instruction set (isa_avx2.cc,
// isa_avx512.cc: simd_kernels.inl between STEPRL_TARGET_* pragmas), which defines the entry
// points <kernel>_avx2 and <kernel>_avx512 next to the family's <kernel>_scalar; they are chosen
// at run time (STEPRL_SIMD_KERNEL), so one binary runs on any x86-64 and still uses AVX-512 where
// present. STEPRL_SIMD=scalar|avx2|avx512 (or set_simd_level) caps the level, which is how the
// tests reach every path on one machine.
#pragma once

namespace steprl::cpu {

enum class SimdLevel : int { scalar = 0, avx2 = 1, avx512 = 2 };

SimdLevel simd_level();                 // the level kernels use now
SimdLevel simd_supported();             // the best level this CPU and build support
void set_simd_level(SimdLevel level);   // capped at simd_supported()
const char* simd_name(SimdLevel level);

}  // namespace steprl::cpu

// Pragmas that open an ISA-specific translation unit. Such files must keep every function
// internal (static or in an anonymous namespace) except their entry points, and must not
// instantiate std templates, so that no AVX code can be picked by the linker for shared inline
// functions called from generic code.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define STEPRL_X86 1
#define STEPRL_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define STEPRL_TARGET_BEGIN(isa) STEPRL_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define STEPRL_TARGET_END STEPRL_PRAGMA(clang attribute pop)
#else
#define STEPRL_TARGET_BEGIN(isa) STEPRL_PRAGMA(GCC push_options) STEPRL_PRAGMA(GCC target(isa))
#define STEPRL_TARGET_END STEPRL_PRAGMA(GCC pop_options)
#endif
#define STEPRL_ISA_AVX512 "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,bmi2,f16c"
#define STEPRL_ISA_AVX2 "avx2,fma,bmi2,f16c"
#elif defined(_M_X64)
#define STEPRL_X86 1
#define STEPRL_TARGET_BEGIN(isa)
#define STEPRL_TARGET_END
#endif

// The kernel `name`_avx512, `name`_avx2 or `name`_scalar (declared in the family's header) of the
// level in force, e.g. STEPRL_SIMD_KERNEL(swiglu_forward_rows). Off x86-64 it names only the
// scalar one, so the SIMD entry points, which only the ISA translation units define, need no
// definition there.
#if defined(STEPRL_X86)
#define STEPRL_SIMD_KERNEL(name) ::steprl::cpu::simd_pick(name##_scalar, name##_avx2, name##_avx512)
namespace steprl::cpu {
template <typename Kernel>
Kernel simd_pick(Kernel scalar, Kernel avx2, Kernel avx512) {  // not for ISA translation units
  switch (simd_level()) {
    case SimdLevel::avx512: return avx512;
    case SimdLevel::avx2: return avx2;
    default: return scalar;
  }
}
}  // namespace steprl::cpu
#else
#define STEPRL_SIMD_KERNEL(name) (name##_scalar)
#endif
