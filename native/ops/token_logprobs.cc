// ops/token_logprobs.cc: N-API glue for tokenLogprobs / tokenLogprobsBackward.
//   tokenLogprobs(logits [R,V] f32|bf16, targets [R] i32, R, V, temperature, entropy: bool, async)
//     -> { logprobs, logZ, entropy? }                       (each f32 [R])
//   tokenLogprobsBackward(logits, targets, logZ, dlogprobs, entropy|null, dentropy|null,
//                         R, V, temperature, out [R,V]|null, async) -> dlogits f32 [R,V]
//     out may be the (f32) logits; otherwise it shares no memory with any input
// Dispatch on the inputs' device: typed arrays run the CPU kernels, DeviceBuffers (CUDA and
// simulator builds) the kernels of cuda/token_logprobs.cu, whose outputs stay on the device.
// Targets are range-checked (they index into the logits): here on the cpu, by the kernels on cuda.
#include <cmath>
#include <string>
#include <vector>

#include "../cpu/token_logprobs.h"
#include "../napi_util.h"
#include "memory_checks.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/token_logprobs.h"
#include "../device_buffer.h"
#endif

namespace steprl {
namespace {

// Outputs at least this large are written with streaming stores (they cannot stay in cache).
constexpr int64_t kStreamingBytes = int64_t{8} << 20;

void check_targets(const TensorArg& targets, int64_t V) {
  const int32_t* t = targets.as<int32_t>();
  for (int64_t i = 0; i < targets.numel; ++i)
    if (t[i] < 0 || t[i] >= V)
      throw ArgumentError("targets", "Expected every target in [0, " + std::to_string(V) + ") but received " +
                                         std::to_string(t[i]) + " at index " + std::to_string(i));
}

float inverse_temperature(const Napi::CallbackInfo& info, size_t index) {
  const double temperature = number_arg(info, index, "temperature");
  if (!(temperature > 0.0) || !std::isfinite(temperature))
    throw ArgumentError("temperature", "Expected a finite number > 0 for temperature but received " +
                                           std::to_string(temperature));
  return static_cast<float>(1.0 / temperature);
}

Napi::Value TokenLogprobs(const Napi::CallbackInfo& info) {
  require_arity(info, 7, "tokenLogprobs");
  const int64_t R = int_arg(info, 2, "rows", 0, kMaxDim);
  const int64_t V = int_arg(info, 3, "vocab", 1, kMaxDim);
  TensorArg logits = float_tensor_arg(info, 0, "logits", R * V);
  TensorArg targets = tensor_arg(info, 1, "targets", DType::int32, R);
  const float inv_temperature = inverse_temperature(info, 4);
  const bool want_entropy = bool_arg(info, 5, "entropy");
  const bool async = bool_arg(info, 6, "async");
#if defined(STEPRL_WITH_CUDA)
  if (common_device({&logits, &targets}) == Device::cuda) {
    DeviceTensor logprobs(DType::float32, R), logz(DType::float32, R), entropy;
    if (want_entropy) entropy = DeviceTensor(DType::float32, R);
    cuda::TokenLogprobsForwardArgs args{logprobs.as<float>(), logz.as<float>(), want_entropy ? entropy.as<float>() : nullptr,
                                        logits.data, logits.dtype == DType::bfloat16, targets.as<int32_t>(), R, V,
                                        inv_temperature};
    PreparedOp op;
    op.run = [args, logits, targets] { cuda::token_logprobs_forward_cuda(args); };  // the captures keep inputs alive
    op.result = [logprobs, logz, entropy, want_entropy](Napi::Env env) -> Napi::Value {
      Napi::Object out = Napi::Object::New(env);
      out.Set("logprobs", logprobs.to_js(env));
      out.Set("logZ", logz.to_js(env));
      if (want_entropy) out.Set("entropy", entropy.to_js(env));
      return out;
    };
    return finish(info, std::move(op), async);
  }
#endif
  common_device({&logits, &targets});
  check_targets(targets, V);

  auto logprobs = std::make_shared<HostBuffer>(DType::float32, R);
  auto logz = std::make_shared<HostBuffer>(DType::float32, R);
  auto entropy = want_entropy ? std::make_shared<HostBuffer>(DType::float32, R) : nullptr;
  cpu::TokenLogprobsForwardArgs args{logprobs->as<float>(), logz->as<float>(),
                                     entropy ? entropy->as<float>() : nullptr, logits.data,
                                     logits.dtype == DType::bfloat16, targets.as<int32_t>(), V, inv_temperature};
  PreparedOp op;
  op.run = [args, R] { cpu::token_logprobs_forward_cpu(args, R); };
  op.result = [logprobs, logz, entropy](Napi::Env env) -> Napi::Value {
    Napi::Object out = Napi::Object::New(env);
    out.Set("logprobs", logprobs->release_to_js(env));
    out.Set("logZ", logz->release_to_js(env));
    if (entropy) out.Set("entropy", entropy->release_to_js(env));
    return out;
  };
  return finish(info, std::move(op), async);
}

Napi::Value TokenLogprobsBackward(const Napi::CallbackInfo& info) {
  require_arity(info, 11, "tokenLogprobsBackward");
  const int64_t R = int_arg(info, 6, "rows", 0, kMaxDim);
  const int64_t V = int_arg(info, 7, "vocab", 1, kMaxDim);
  TensorArg logits = float_tensor_arg(info, 0, "logits", R * V);
  TensorArg targets = tensor_arg(info, 1, "targets", DType::int32, R);
  TensorArg logz = tensor_arg(info, 2, "logZ", DType::float32, R);
  TensorArg dlogprobs = tensor_arg(info, 3, "dlogprobs", DType::float32, R);
  TensorArg entropy = optional_tensor_arg(info, 4, "entropy", DType::float32, R);
  TensorArg dentropy = optional_tensor_arg(info, 5, "dentropy", DType::float32, R);
  const float inv_temperature = inverse_temperature(info, 8);
  TensorArg out = optional_tensor_arg(info, 9, "out", DType::float32, R * V);
  const bool async = bool_arg(info, 10, "async");
  // Each row is read and then written by one block (one CPU task): `out` may be the f32 logits
  // themselves, but a partial overlap (e.g. a view shifted by a row) lets one row's writes race
  // another row's reads, and the per-row inputs must not be overwritten while other rows read them.
  require_same_or_disjoint(out, "out", logits, "logits");
  require_disjoint(out, "out", targets, "targets");
  require_disjoint(out, "out", logz, "logZ");
  require_disjoint(out, "out", dlogprobs, "dlogprobs");
  require_disjoint(out, "out", entropy, "entropy");
  require_disjoint(out, "out", dentropy, "dentropy");
#if defined(STEPRL_WITH_CUDA)
  if (common_device({&logits, &targets, &logz, &dlogprobs, &entropy, &dentropy, &out}) == Device::cuda) {
    DeviceTensor owned;
    TensorArg dlogits = out;
    if (!out.present) {
      owned = DeviceTensor(DType::float32, R * V);
      dlogits = owned.arg();
    }
    cuda::TokenLogprobsBackwardArgs args{dlogits.as<float>(), logits.data, logits.dtype == DType::bfloat16,
                                         targets.as<int32_t>(), logz.as<float>(), dlogprobs.as<float>(),
                                         entropy.as<float>(), dentropy.as<float>(), R, V, inv_temperature};
    const std::vector<TensorArg> inputs{logits, targets, logz, dlogprobs, entropy, dentropy, dlogits};
    PreparedOp op;
    op.run = [args, inputs] { cuda::token_logprobs_backward_cuda(args); };
    auto out_value = std::make_shared<Napi::Reference<Napi::Value>>();
    if (out.present) *out_value = Napi::Persistent(info[9]);
    op.result = [owned, out_value](Napi::Env env) -> Napi::Value {
      if (owned.memory) return owned.to_js(env);
      return out_value->Value();
    };
    return finish(info, std::move(op), async);
  }
#endif
  common_device({&logits, &targets, &logz, &dlogprobs, &entropy, &dentropy, &out});
  check_targets(targets, V);

  std::shared_ptr<HostBuffer> owned;
  float* dlogits = out.as<float>();
  if (!out.present) {
    owned = std::make_shared<HostBuffer>(DType::float32, R * V);
    dlogits = owned->as<float>();
  }
  const bool streaming = R * V * static_cast<int64_t>(sizeof(float)) >= kStreamingBytes;
  cpu::TokenLogprobsBackwardArgs args{dlogits, logits.data, logits.dtype == DType::bfloat16,
                                      targets.as<int32_t>(), logz.as<float>(), dlogprobs.as<float>(),
                                      entropy.as<float>(), dentropy.as<float>(), V, inv_temperature, streaming};
  PreparedOp op;
  op.run = [args, R] { cpu::token_logprobs_backward_cpu(args, R); };
  auto out_value = std::make_shared<Napi::Reference<Napi::Value>>();
  if (out.present) *out_value = Napi::Persistent(info[9]);
  op.result = [owned, out_value](Napi::Env env) -> Napi::Value {
    if (owned) return owned->release_to_js(env);
    return out_value->Value();
  };
  return finish(info, std::move(op), async);
}

}  // namespace

void register_token_logprobs(Napi::Object exports) {
  STEPRL_EXPORT(exports, "tokenLogprobs", TokenLogprobs);
  STEPRL_EXPORT(exports, "tokenLogprobsBackward", TokenLogprobsBackward);
}

}  // namespace steprl
