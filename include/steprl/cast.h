// steprl/cast.h: the whole shared surface of cast, the on-device dtype conversion between float32
// and bfloat16 (the mixed-precision path of TinyLM: bf16 copies of the fp32 master weights and of
// the activations that feed the tensor-core GEMMs). The arguments, the bit-exact rules both
// backends follow, and the declarations of both launchers (native/cpu/cast.cc, cuda/cast.cu).
//   float32 -> bfloat16: round to nearest, ties to even, on the bits: (x + 0x7fff + lsb) >> 16, where
//     lsb is bit 16 of x. A NaN keeps its sign and its top payload bits and gets the quiet bit
//     (bits >> 16 | 0x0040), so no NaN rounds to infinity. ±inf stay ±inf; finite values above
//     the largest bf16 (0x7f7fffff rounds up) become ±inf; float32 subnormals round like any value
//     (bf16 has float32's exponent range, so its subnormals are float32's, with 7 mantissa bits).
//   bfloat16 -> float32: exact (bits << 16).
// These are the bits of lib/dtype.ts toBFloat16 / fromBFloat16 and native/cpu/convert.h.
#pragma once

#include <cstdint>

namespace steprl {

enum class CastKind : int32_t {
  float32_to_bfloat16 = 0,
  bfloat16_to_float32 = 1,
};

struct CastArgs {
  void* out;        // [n] bfloat16 bits (uint16) or float32: the other dtype of inp
  const void* inp;  // [n] float32 or bfloat16 bits; disjoint from out (the glue checks)
  CastKind kind;
  int64_t n;
};

// The rounding rule above, shared by the CPU loop and the CUDA kernel (a host+device function
// would need CUDA headers here; each backend states it once against this comment).

namespace cpu {
void cast_cpu(const CastArgs& args);
}  // namespace cpu

namespace cuda {
// Queues the kernel on cuda::stream(); the result is ready in stream order.
void cast_cuda(const CastArgs& args);
}  // namespace cuda

}  // namespace steprl
