// steprl/step_offsets.h: the ragged step rows of prmScore, weibullReward and processGrpoAdvantage.
// Row i owns the items [offsets[i], offsets[i+1]) of S, offsets int32 [R+1]. A kernel that reads
// them on the host needs 0 = offsets[0] <= ... <= offsets[R] = S; check_step_offsets says so in the
// TypeScript layer's words and order (lib/ops/advantage_args.ts). The CUDA kernels check the same
// rule on the device (cuda/step_offsets.cuh) and report it in the same words.
#pragma once

#include <cstdint>
#include <string>

#include "errors.h"

namespace steprl {

constexpr int64_t kMaxSteps = int64_t{1} << 31;  // offsets and step ends are int32

// Ragged offsets into S items: offsets[0] = 0, non-decreasing, offsets[R] = S. `items` names S.
inline void check_step_offsets(const int32_t* offsets, int64_t R, int64_t S, const char* items) {
  if (offsets[0] != 0)
    throw ArgumentError("stepOffsets", "Expected 0 for stepOffsets[0] but received " + std::to_string(offsets[0]));
  for (int64_t i = 0; i < R; ++i)
    if (offsets[i + 1] < offsets[i])
      throw ArgumentError("stepOffsets", "Expected non-decreasing values for stepOffsets but received " +
                                             std::to_string(offsets[i + 1]) + " after " + std::to_string(offsets[i]) +
                                             " at index " + std::to_string(i + 1));
  if (offsets[R] != S)
    throw ArgumentError("stepOffsets", "Expected " + std::to_string(S) + " (the number of " + items + ") for stepOffsets[" +
                                           std::to_string(R) + "] but received " + std::to_string(offsets[R]));
}

}  // namespace steprl
