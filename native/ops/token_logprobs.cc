// ops/token_logprobs.cc: N-API glue for tokenLogprobs / tokenLogprobsBackward.
//   tokenLogprobs(logits [R,V] f32|bf16, targets [R] i32, R, V, temperature, entropy: bool, async)
//     -> { logprobs, logZ, entropy? }                       (each f32 [R])
//   tokenLogprobsBackward(logits, targets, logZ, dlogprobs, entropy|null, dentropy|null,
//                         R, V, temperature, out [R,V]|null, async) -> dlogits f32 [R,V]
//     out may be the (f32) logits; otherwise it shares no memory with any input
// Dispatch on the inputs' device: typed arrays run the CPU kernels, DeviceBuffers (CUDA and
// simulator builds) the kernels of cuda/token_logprobs.cu, whose outputs stay on the device.
// Targets are range-checked (they index into the logits): here on the cpu, by the kernels on cuda.
#include "../cpu/token_logprobs.h"
#include "args.h"
#include "dispatch.h"
#include "logprobs_glue.h"
#include "memory_checks.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/token_logprobs.h"
#endif

namespace steprl {
namespace {

// Outputs at least this large are written with streaming stores (they cannot stay in cache).
constexpr int64_t kStreamingBytes = int64_t{8} << 20;

Napi::Value TokenLogprobs(const Napi::CallbackInfo& info) {
  require_arity(info, 7, "tokenLogprobs");
  const auto [R, V, logits, targets] = logits_args(info, 2);
  const float inv_temperature = inverse_temperature_arg(info, 4);
  const bool want_entropy = bool_arg(info, 5, "entropy");
  const bool async = bool_arg(info, 6, "async");
  const Device device = common_device({&logits, &targets});
  if (device == Device::cpu) check_targets(targets.as<int32_t>(), targets.numel, V);  // cuda: by the kernels

  const LogprobOutputs outs(device, R, want_entropy);
  const TokenLogprobsForwardArgs args{outs.logprobs.as<float>(), outs.logz.as<float>(), outs.entropy.as<float>(),
                                      logits.data, logits.dtype == DType::bfloat16, targets.as<int32_t>(), V,
                                      inv_temperature, R};
  return run_launchers(info, device, async, args, cpu::token_logprobs_forward_cpu,
                       STEPRL_CUDA_ONLY(cuda::token_logprobs_forward_cuda),
                       [outs](Napi::Env env) { return outs.to_js(env); }, {logits, targets});
}

Napi::Value TokenLogprobsBackward(const Napi::CallbackInfo& info) {
  require_arity(info, 11, "tokenLogprobsBackward");
  const auto [R, V, logits, targets] = logits_args(info, 6);
  TensorArg logz = tensor_arg(info, 2, "logZ", DType::float32, R);
  TensorArg dlogprobs = tensor_arg(info, 3, "dlogprobs", DType::float32, R);
  TensorArg entropy = optional_tensor_arg(info, 4, "entropy", DType::float32, R);
  TensorArg dentropy = optional_tensor_arg(info, 5, "dentropy", DType::float32, R);
  const float inv_temperature = inverse_temperature_arg(info, 8);
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
  const Device device = common_device({&logits, &targets, &logz, &dlogprobs, &entropy, &dentropy, &out});
  if (device == Device::cpu) check_targets(targets.as<int32_t>(), targets.numel, V);  // cuda: by the kernels

  const Output dlogits = Output::given_or_new(info, 9, out, device, DType::float32, R * V);
  const bool streaming = R * V * static_cast<int64_t>(sizeof(float)) >= kStreamingBytes;
  const TokenLogprobsBackwardArgs args{dlogits.as<float>(), logits.data, logits.dtype == DType::bfloat16,
                                       targets.as<int32_t>(), logz.as<float>(), dlogprobs.as<float>(),
                                       entropy.as<float>(), dentropy.as<float>(), V, inv_temperature, streaming, R};
  return run_launchers(info, device, async, args, cpu::token_logprobs_backward_cpu,
                       STEPRL_CUDA_ONLY(cuda::token_logprobs_backward_cuda), dlogits.as_result(),
                       {logits, targets, logz, dlogprobs, entropy, dentropy, out});
}

}  // namespace

void register_token_logprobs(Napi::Object exports) {
  STEPRL_EXPORT(exports, "tokenLogprobs", TokenLogprobs);
  STEPRL_EXPORT(exports, "tokenLogprobsBackward", TokenLogprobsBackward);
}

STEPRL_REGISTER(register_token_logprobs);

}  // namespace steprl
