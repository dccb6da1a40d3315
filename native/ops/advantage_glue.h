// advantage_glue.h: argument helpers shared by the N-API glue of the advantage and reward
// families (prl_advantage, prpo_advantage, entropy_segments, process_grpo_advantage, gae,
// prm_score, weibull_reward). Like every glue file they re-check only what keeps memory safe, plus
// the option values a kernel divides by or loops over; TypeScript explains everything else first.
#pragma once

#include <cmath>
#include <string>

#include "../napi_util.h"

namespace steprl::advantage_glue {

constexpr int64_t kMaxDim = int64_t{1} << 40;
constexpr int64_t kMaxSteps = int64_t{1} << 31;  // offsets and step ends are int32

inline std::string string_arg(const Napi::CallbackInfo& info, size_t index) {
  return info[index].IsString() ? info[index].As<Napi::String>().Utf8Value() : "";
}

// A number that is finite and > 0 (or >= 0 when `zero_ok`).
inline double positive_arg(const Napi::CallbackInfo& info, size_t index, const char* name, bool zero_ok = false) {
  const double value = number_arg(info, index, name);
  if (!std::isfinite(value) || value < 0.0 || (!zero_ok && value == 0.0))
    throw ArgumentError(name, std::string("Expected a finite number ") + (zero_ok ? ">= 0" : "> 0") + " for " + name +
                                  " but received " + std::to_string(value));
  return value;
}

// The ragged step scores that prmScore and weibullReward take as their first four arguments:
//   stepScores [S] f32, stepOffsets [R+1] i32, S, R.
struct StepScoreArgs {
  int64_t S, R;
  TensorArg scores;   // [S]
  TensorArg offsets;  // [R+1]
};
inline StepScoreArgs step_score_args(const Napi::CallbackInfo& info) {
  const int64_t S = int_arg(info, 2, "steps", 0, kMaxSteps - 1);
  const int64_t R = int_arg(info, 3, "rows", 0, kMaxSteps);
  return {S, R, tensor_arg(info, 0, "stepScores", DType::float32, S), tensor_arg(info, 1, "stepOffsets", DType::int32, R + 1)};
}

// Ragged offsets into S items: offsets[0] = 0, non-decreasing, offsets[R] = S (the TypeScript words).
inline void check_offsets(const int32_t* offsets, int64_t R, int64_t S, const char* items) {
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

}  // namespace steprl::advantage_glue
