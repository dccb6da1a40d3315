// isa_avx2.cc: every vectorized kernel family compiled for AVX2 + FMA: simd_kernels.inl with
// `Vec` = VecAvx2 (vec_avx2.h), its entry points named <kernel>_avx2.
// The entry points are chosen at run time on CPUs with AVX2 and FMA (simd.h).
#define STEPRL_ISA_TARGET STEPRL_ISA_AVX2
#define STEPRL_ISA_VEC_HEADER "vec_avx2.h"
#define STEPRL_ISA_VEC VecAvx2
#define STEPRL_SIMD_ENTRY(name) name##_avx2
#include "simd_kernels.inl"
