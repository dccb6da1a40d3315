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

// Reads n elements stored at byte `position` of the open file `fd` (float32, or bf16 / f16 bits
// when `half` is set) into `out` as float32, with positioned reads (pread) over the thread pool:
// float32 lands in place, half formats go through a 2 MiB buffer per task and are widened. Returns
// n, or, when the file ends early, the number of leading elements that were read. Throws
// std::runtime_error on an I/O error. POSIX only (STEPRL_HAVE_PREAD).
enum class StoredFormat { float32, bfloat16, float16 };
int64_t read_as_float32_cpu(int fd, int64_t position, float* out, int64_t n, StoredFormat format);

}  // namespace steprl::cpu
