// ops/policy_loss.cc: N-API glue for policyLoss (ALGORITHMS.md §1.1-§1.4, §1.7).
//   policyLoss(logprobs, oldLogprobs, refLogprobs|null, advantages (f32 [R,T] each), mask (f32|u8 [R,T]),
//              R, T, clipLow, clipHigh, dualClip|null, klCoef, klEstimator, aggregation,
//              tokenCount|null, rowCount|null, maxLength|null, lossScale, mode: 'clip'|'gspo'|'gspo-token'|'cispo',
//              async)
//     -> { loss, dlogprobs (f32 [R,T]), clipFraction, kl, approxKl, pgLoss, klLoss }
// TypeScript validates every option; this re-checks sizes, dtypes, names and the denominators.
// Typed arrays run the CPU kernels, DeviceBuffers (CUDA and simulator builds) cuda/policy_loss.cu,
// which also checks the mask's values (TypeScript checks them on the cpu only).
#include <cmath>
#include <string>
#include <vector>

#include "../cpu/policy_loss.h"
#include "../napi_util.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/policy_loss.h"
#include "../device_buffer.h"
#endif

namespace steprl {
namespace {

constexpr int64_t kMaxDim = int64_t{1} << 40;

std::string string_arg(const Napi::CallbackInfo& info, size_t index) {
  return info[index].IsString() ? info[index].As<Napi::String>().Utf8Value() : "";
}

// A number > 0, or `fallback` for null/undefined.
double optional_positive(const Napi::CallbackInfo& info, size_t index, const char* name, double fallback) {
  if (info[index].IsUndefined() || info[index].IsNull()) return fallback;
  const double value = number_arg(info, index, name);
  if (!(value > 0.0) || !std::isfinite(value))
    throw ArgumentError(name, std::string("Expected a finite number > 0 for ") + name + " but received " + std::to_string(value));
  return value;
}

Napi::Value PolicyLoss(const Napi::CallbackInfo& info) {
  require_arity(info, 19, "policyLoss");
  const int64_t R = int_arg(info, 5, "rows", 0, kMaxDim);
  const int64_t T = int_arg(info, 6, "tokens", 0, kMaxDim);
  const int64_t n = R * T;
  TensorArg logprobs = tensor_arg(info, 0, "logprobs", DType::float32, n);
  TensorArg old = tensor_arg(info, 1, "oldLogprobs", DType::float32, n);
  TensorArg ref = optional_tensor_arg(info, 2, "refLogprobs", DType::float32, n);
  TensorArg advantages = tensor_arg(info, 3, "advantages", DType::float32, n);
  TensorArg mask = tensor_arg_of(info, 4, "mask", {DType::float32, DType::uint8}, n);
  const bool mask_u8 = mask.dtype == DType::uint8;
  const Device device = common_device({&logprobs, &old, &ref, &advantages, &mask});

  cpu::PolicyLossArgs args{};
  args.logprobs = logprobs.as<float>();
  args.old_logprobs = old.as<float>();
  args.ref_logprobs = ref.present ? ref.as<float>() : nullptr;
  args.advantages = advantages.as<float>();
  args.mask = mask.data;
  args.mask_u8 = mask_u8;
  args.T = T;
  args.clip_low = static_cast<float>(number_arg(info, 7, "clipLow"));
  args.clip_high = static_cast<float>(number_arg(info, 8, "clipHigh"));
  args.dual_clip = static_cast<float>(optional_positive(info, 9, "dualClip", INFINITY));
  args.kl_coef = static_cast<float>(number_arg(info, 10, "klCoef"));
  if (args.kl_coef != 0.0f && !ref.present)
    throw ArgumentError("refLogprobs", "Expected refLogprobs when klCoef is not 0 but received none");
  if (!cpu::kl_estimator_from_name(string_arg(info, 11).c_str(), &args.kl_estimator))
    throw ArgumentError("klEstimator", "Expected one of k1, k2, k3, k3+, abs for klEstimator but received " + string_arg(info, 11));
  if (!cpu::loss_aggregation_from_name(string_arg(info, 12).c_str(), &args.aggregation))
    throw ArgumentError("aggregation", "Expected one of token-mean, seq-mean-token-mean, seq-mean-token-sum, "
                                       "seq-mean-token-sum-norm for aggregation but received " + string_arg(info, 12));
  args.token_count = optional_positive(info, 13, "tokenCount", 0.0);
  args.row_count = optional_positive(info, 14, "rowCount", static_cast<double>(R));
  args.max_length = optional_positive(info, 15, "maxLength", static_cast<double>(T));
  args.loss_scale = number_arg(info, 16, "lossScale");
  if (!cpu::policy_loss_mode_from_name(string_arg(info, 17).c_str(), &args.mode))
    throw ArgumentError("mode", "Expected one of clip, gspo, gspo-token, cispo for mode but received " + string_arg(info, 17));
  if (args.mode != cpu::PolicyLossMode::clip && std::isfinite(args.dual_clip))
    throw ArgumentError("dualClip", "Expected no dualClip with mode " + string_arg(info, 17) + " but received " +
                                        std::to_string(args.dual_clip));
  const bool async = bool_arg(info, 18, "async");

#if !defined(STEPRL_WITH_CUDA)
  (void)device;
#else
  if (device == Device::cuda) {  // cuda/policy_loss.cu: dlogprobs stays on the device, scalars come back
    DeviceTensor dlogprobs(DType::float32, n);
    cuda::PolicyLossArgs cuda_args{dlogprobs.as<float>(), args.logprobs, args.old_logprobs, args.ref_logprobs,
                                   args.advantages, args.mask, mask_u8 != 0, R, T, args.clip_low, args.clip_high,
                                   args.dual_clip, args.kl_coef, args.kl_estimator, args.aggregation, args.mode, args.token_count,
                                   args.row_count, args.max_length, args.loss_scale};
    const std::vector<TensorArg> inputs{logprobs, old, ref, advantages, mask};
    auto result = std::make_shared<cpu::PolicyLossResult>();
    PreparedOp op;
    op.run = [cuda_args, inputs, result] { *result = cuda::policy_loss_cuda(cuda_args); };
    op.result = [dlogprobs, result](Napi::Env env) -> Napi::Value {
      Napi::Object out = Napi::Object::New(env);
      out.Set("loss", result->loss);
      out.Set("dlogprobs", dlogprobs.to_js(env));
      out.Set("clipFraction", result->clip_fraction);
      out.Set("kl", result->kl);
      out.Set("approxKl", result->approx_kl);
      out.Set("pgLoss", result->pg_loss);
      out.Set("klLoss", result->kl_loss);
      return out;
    };
    return finish(info, std::move(op), async);
  }
#endif
  auto dlogprobs = std::make_shared<HostBuffer>(DType::float32, n);
  args.dlogprobs = dlogprobs->as<float>();
  auto result = std::make_shared<cpu::PolicyLossResult>();
  PreparedOp op;
  op.run = [args, R, result] { *result = cpu::policy_loss_cpu(args, R); };
  op.result = [dlogprobs, result](Napi::Env env) -> Napi::Value {
    Napi::Object out = Napi::Object::New(env);
    out.Set("loss", result->loss);
    out.Set("dlogprobs", dlogprobs->release_to_js(env));
    out.Set("clipFraction", result->clip_fraction);
    out.Set("kl", result->kl);
    out.Set("approxKl", result->approx_kl);
    out.Set("pgLoss", result->pg_loss);
    out.Set("klLoss", result->kl_loss);
    return out;
  };
  return finish(info, std::move(op), async);
}

}  // namespace

void register_policy_loss(Napi::Object exports) { STEPRL_EXPORT(exports, "policyLoss", PolicyLoss); }

}  // namespace steprl
