// convert.h: float format conversions for checkpoint files (safetensors BF16 / F16 <-> float32).
//   widen:  bfloat16 or float16 bits -> float32, exact (every bf16 and f16 value is a float32).
//   narrow: float32 -> bfloat16 bits, round to nearest even; a NaN stays a NaN (quiet bit set),
//           the same bits as lib/dtype.ts toBFloat16.
// Element-wise, split over the thread pool; results do not depend on the thread count.
#pragma once

#include <cstdint>

namespace steprl::cpu {

enum class HalfFormat { bfloat16, float16 };

void widen_to_float32_cpu(float* out, const uint16_t* inp, int64_t n, HalfFormat format);
void narrow_to_bfloat16_cpu(uint16_t* out, const float* inp, int64_t n);

}  // namespace steprl::cpu
