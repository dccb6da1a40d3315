// isa_avx512.cc: every vectorized kernel family compiled for AVX-512 (F, BW, DQ, VL):
// simd_kernels.inl with `Vec` = VecAvx512 (vec_avx512.h), its entry points named <kernel>_avx512.
// The entry points are chosen at run time on CPUs with those extensions (simd.h).
#define STEPRL_ISA_TARGET STEPRL_ISA_AVX512
#define STEPRL_ISA_VEC_HEADER "vec_avx512.h"
#define STEPRL_ISA_VEC VecAvx512
#define STEPRL_SIMD_ENTRY(name) name##_avx512
#include "simd_kernels.inl"
