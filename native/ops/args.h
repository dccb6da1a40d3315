// args.h: argument readers every family's glue shares, on top of napi_util.h's tensor and number
// readers: option strings, the option names that become include/steprl enums, positive numbers,
// the [R,T] sizes with their mask, and the ragged step scores. Like every glue helper they re-check
// only what keeps memory safe, plus the option values a kernel divides by or loops over;
// TypeScript explains first.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "../../include/steprl/step_offsets.h"  // kMaxSteps, check_step_offsets
#include "../cpu/convert.h"
#include "../napi_util.h"

namespace steprl {

constexpr int64_t kMaxDim = int64_t{1} << 40;

// The string at `index`, or "" for anything else.
inline std::string string_arg(const Napi::CallbackInfo& info, size_t index) {
  return info[index].IsString() ? info[index].As<Napi::String>().Utf8Value() : "";
}

// The enum a name stands for (`from_name`, e.g. cpu::kl_estimator_from_name); `choices` lists the
// names for the error.
template <typename E>
E enum_arg(const Napi::CallbackInfo& info, size_t index, const char* name, bool (*from_name)(const char*, E*),
           const char* choices) {
  E value{};
  const std::string text = string_arg(info, index);
  if (!from_name(text.c_str(), &value))
    throw ArgumentError(name, std::string("Expected one of ") + choices + " for " + name + " but received " + text);
  return value;
}

// A number that is finite and > 0 (or >= 0 when `zero_ok`).
inline double positive_arg(const Napi::CallbackInfo& info, size_t index, const char* name, bool zero_ok = false) {
  const double value = number_arg(info, index, name);
  if (!std::isfinite(value) || value < 0.0 || (!zero_ok && value == 0.0))
    throw ArgumentError(name, std::string("Expected a finite number ") + (zero_ok ? ">= 0" : "> 0") + " for " + name +
                                  " but received " + std::to_string(value));
  return value;
}

// A number > 0, or `fallback` for null/undefined.
inline double optional_positive_arg(const Napi::CallbackInfo& info, size_t index, const char* name, double fallback) {
  if (info[index].IsUndefined() || info[index].IsNull()) return fallback;
  const double value = number_arg(info, index, name);
  if (!(value > 0.0) || !std::isfinite(value))
    throw ArgumentError(name, std::string("Expected a finite number > 0 for ") + name + " but received " + std::to_string(value));
  return value;
}

// R rows of T tokens ("rows" at info[r_index], "tokens" at info[t_index]) with R*T below 2^40.
struct RowsTokens {
  int64_t R, T, n;  // n = R*T
};
inline RowsTokens rows_tokens_arg(const Napi::CallbackInfo& info, size_t r_index, size_t t_index, int64_t r_max = kMaxDim,
                                  int64_t t_max = kMaxDim) {
  const int64_t R = int_arg(info, r_index, "rows", 0, r_max);
  const int64_t T = int_arg(info, t_index, "tokens", 0, t_max);
  if (T != 0 && R > kMaxDim / T) throw ArgumentError("tokens", "Expected R*T below 2^40 but received larger sizes");
  return {R, T, R * T};
}

// A float32 or uint8 mask of n elements.
inline TensorArg mask_arg(const Napi::CallbackInfo& info, size_t index, int64_t n) {
  return tensor_arg_of(info, index, "mask", {DType::float32, DType::uint8}, n);
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

// bf16 bits -> float32 (exact), on the host: the CPU path of the ops that take bfloat16 inputs.
inline std::vector<float> widen_bf16(const TensorArg& t) {
  std::vector<float> out(static_cast<size_t>(t.numel));
  cpu::widen_to_float32_cpu(out.data(), t.as<uint16_t>(), t.numel, cpu::HalfFormat::bfloat16);
  return out;
}

}  // namespace steprl
