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

#include "../cpu/policy_loss.h"
#include "args.h"
#include "dispatch.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/policy_loss.h"
#endif

namespace steprl {
namespace {

Napi::Value to_js(Napi::Env env, const PolicyLossResult& result, const Output& dlogprobs) {
  return object(env, {{"loss", Napi::Number::New(env, result.loss)},
                      {"dlogprobs", dlogprobs.to_js(env)},
                      {"clipFraction", Napi::Number::New(env, result.clip_fraction)},
                      {"kl", Napi::Number::New(env, result.kl)},
                      {"approxKl", Napi::Number::New(env, result.approx_kl)},
                      {"pgLoss", Napi::Number::New(env, result.pg_loss)},
                      {"klLoss", Napi::Number::New(env, result.kl_loss)}});
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
  TensorArg mask = mask_arg(info, 4, n);
  const Device device = common_device({&logprobs, &old, &ref, &advantages, &mask});

  PolicyLossArgs args{};
  args.logprobs = logprobs.as<float>();
  args.old_logprobs = old.as<float>();
  args.ref_logprobs = ref.present ? ref.as<float>() : nullptr;
  args.advantages = advantages.as<float>();
  args.mask = mask.data;
  args.mask_u8 = mask.dtype == DType::uint8;
  args.R = R;
  args.T = T;
  args.clip_low = static_cast<float>(number_arg(info, 7, "clipLow"));
  args.clip_high = static_cast<float>(number_arg(info, 8, "clipHigh"));
  args.dual_clip = static_cast<float>(optional_positive_arg(info, 9, "dualClip", INFINITY));
  args.kl_coef = static_cast<float>(number_arg(info, 10, "klCoef"));
  if (args.kl_coef != 0.0f && !ref.present)
    throw ArgumentError("refLogprobs", "Expected refLogprobs when klCoef is not 0 but received none");
  args.kl_estimator = enum_arg(info, 11, "klEstimator", cpu::kl_estimator_from_name, "k1, k2, k3, k3+, abs");
  args.aggregation = enum_arg(info, 12, "aggregation", cpu::loss_aggregation_from_name,
                              "token-mean, seq-mean-token-mean, seq-mean-token-sum, seq-mean-token-sum-norm");
  args.token_count = optional_positive_arg(info, 13, "tokenCount", 0.0);
  args.row_count = optional_positive_arg(info, 14, "rowCount", static_cast<double>(R));
  args.max_length = optional_positive_arg(info, 15, "maxLength", static_cast<double>(T));
  args.loss_scale = number_arg(info, 16, "lossScale");
  args.mode = enum_arg(info, 17, "mode", cpu::policy_loss_mode_from_name, "clip, gspo, gspo-token, cispo");
  if (args.mode != PolicyLossMode::clip && std::isfinite(args.dual_clip))
    throw ArgumentError("dualClip", "Expected no dualClip with mode " + string_arg(info, 17) + " but received " +
                                        std::to_string(args.dual_clip));
  const bool async = bool_arg(info, 18, "async");

  Output dlogprobs(device, DType::float32, n);  // on cuda it stays on the device, the scalars come back
  args.dlogprobs = dlogprobs.as<float>();
  return run_op<PolicyLossResult>(
      info, device, async, [args] { return cpu::policy_loss_cpu(args, args.R); },
      STEPRL_CUDA_ONLY([args] { return cuda::policy_loss_cuda(args); }),
      [dlogprobs](Napi::Env env, const PolicyLossResult& result) { return to_js(env, result, dlogprobs); },
      {logprobs, old, ref, advantages, mask});
}

STEPRL_REGISTER_FUNCTION("policyLoss", PolicyLoss);

}  // namespace

}  // namespace steprl
