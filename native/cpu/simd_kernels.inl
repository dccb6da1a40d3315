// simd_kernels.inl: the body of one instruction-set translation unit (isa_avx2.cc, isa_avx512.cc).
// The including file names the instruction set:
//   STEPRL_ISA_TARGET       the target string (simd.h: STEPRL_ISA_AVX2 / STEPRL_ISA_AVX512)
//   STEPRL_ISA_VEC_HEADER   the vector header ("vec_avx2.h"), defining STEPRL_ISA_VEC (VecAvx2)
//   STEPRL_SIMD_ENTRY(name) the entry point `name` of a family, suffixed with the instruction set
// and this file includes every vectorized family's <family>_simd.inl, each written once over the
// vector type `Vec` and closing with its entry points, declared in <family>.h as <kernel>_avx2 and
// <kernel>_avx512 and chosen at run time by STEPRL_SIMD_KERNEL (simd.h). A new vectorized family
// adds one #include line below.
//
// Everything here is compiled with the instruction set enabled, so the rules of simd.h hold: each
// family keeps its helpers in its own namespace inside an anonymous namespace (internal linkage,
// no name clashes between families), only the entry points are external, and no std template is
// instantiated. Off x86-64 nothing is compiled: STEPRL_SIMD_KERNEL names only the scalar kernels
// there, so the SIMD entry points need no definition.
#include <cmath>
#include <cstdint>

#include "attention.h"
#include "kl_penalty.h"
#include "matmul.h"
#include "policy_loss.h"
#include "rmsnorm.h"
#include "sampling.h"
#include "simd.h"
#include "swiglu.h"
#include "token_logprobs.h"

#if defined(STEPRL_X86)
#include <immintrin.h>

STEPRL_TARGET_BEGIN(STEPRL_ISA_TARGET)
namespace steprl::cpu {
namespace {
#include STEPRL_ISA_VEC_HEADER
using Vec = STEPRL_ISA_VEC;
}  // namespace

#include "attention_simd.inl"
#include "kl_penalty_simd.inl"
#include "matmul_simd.inl"
#include "policy_loss_simd.inl"  // after kl_penalty_simd.inl: its KL term
#include "rmsnorm_simd.inl"
#include "sampling_simd.inl"
#include "swiglu_simd.inl"
#include "token_logprobs_simd.inl"
}  // namespace steprl::cpu
STEPRL_TARGET_END
#endif
