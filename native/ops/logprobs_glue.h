// logprobs_glue.h: what the glue of tokenLogprobs and linearTokenLogprobs shares: the logits and
// targets, the temperature argument and the forward's outputs { logprobs, logZ, entropy? }.
#pragma once

#include <cmath>
#include <string>

#include "args.h"
#include "dispatch.h"

namespace steprl {

// 1 / temperature, for a finite temperature > 0.
inline float inverse_temperature_arg(const Napi::CallbackInfo& info, size_t index) {
  const double temperature = number_arg(info, index, "temperature");
  if (!(temperature > 0.0) || !std::isfinite(temperature))
    throw ArgumentError("temperature", "Expected a finite number > 0 for temperature but received " +
                                           std::to_string(temperature));
  return static_cast<float>(1.0 / temperature);
}

// logits [R,V] f32|bf16 and targets [R] i32 at info[0], info[1], with R and V at info[sizes],
// info[sizes + 1].
struct LogitsArgs {
  int64_t R, V;
  TensorArg logits, targets;
};
inline LogitsArgs logits_args(const Napi::CallbackInfo& info, size_t sizes) {
  const int64_t R = int_arg(info, sizes, "rows", 0, kMaxDim);
  const int64_t V = int_arg(info, sizes + 1, "vocab", 1, kMaxDim);
  return {R, V, float_tensor_arg(info, 0, "logits", R * V), tensor_arg(info, 1, "targets", DType::int32, R)};
}

// The forward's outputs, each f32 [n] on `device`; entropy only when asked for.
struct LogprobOutputs {
  LogprobOutputs(Device device, int64_t n, bool want_entropy)
      : logprobs(device, DType::float32, n),
        logz(device, DType::float32, n),
        entropy(want_entropy ? Output(device, DType::float32, n) : Output()),
        want_entropy(want_entropy) {}
  Napi::Value to_js(Napi::Env env) const {
    Napi::Object out = object(env, {{"logprobs", logprobs.to_js(env)}, {"logZ", logz.to_js(env)}});
    if (want_entropy) out.Set("entropy", entropy.to_js(env));
    return out;
  }

  Output logprobs, logz, entropy;
  bool want_entropy;
};

}  // namespace steprl
