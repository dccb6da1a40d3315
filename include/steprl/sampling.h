// steprl/sampling.h: what the CPU (native/cpu/sampling.h) and CUDA (cuda/sampling.h) launchers of
// sample share: the arguments. The cpu reads `temperature`, cuda the folded `greedy` and `scale`.
#pragma once

#include <cstdint>

namespace steprl {

struct SampleArgs {
  int32_t* tokens;       // [B]
  const float* logits;   // [B,V]
  int64_t V;
  double temperature;    // 0: greedy
  int64_t top_k;         // 0 or >= V: off
  double top_p;          // >= 1: off
  uint32_t seed;
  uint64_t counter;
  int64_t B;
  bool greedy;           // cuda: temperature 0 (or a scale that overflows)
  double scale;          // cuda: log2(e) / temperature
};

}  // namespace steprl
