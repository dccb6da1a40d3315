// ops/value_loss.cc: N-API glue for valueLoss (ALGORITHMS.md §1.8; the math is
// include/steprl/value_loss.h).
//   valueLoss(values (f32 [R,W]), oldValues, returns (f32 [R,T] each), mask (f32|u8 [R,T]),
//             R, T, W, offset, clip, coef, tokenCount, async)
//     -> { loss, dvalues (f32 [R,W]) }
// TypeScript validates every option; this re-checks sizes, dtypes, the column range and the
// numbers the kernels divide by or compare with. Typed arrays run native/cpu/value_loss.cc,
// DeviceBuffers (CUDA and simulator builds) cuda/value_loss.cu.
#include <cmath>
#include <string>

#include "../../include/steprl/value_loss.h"
#include "args.h"
#include "dispatch.h"
#include "ops.h"

namespace steprl {
namespace {

Napi::Value ValueLoss(const Napi::CallbackInfo& info) {
  require_arity(info, 12, "valueLoss");
  const RowsTokens rt = rows_tokens_arg(info, 4, 5);
  const int64_t W = int_arg(info, 6, "width", rt.T, kMaxDim);
  if (rt.R != 0 && W > kMaxDim / rt.R) throw ArgumentError("width", "Expected R*W below 2^40 but received larger sizes");
  const int64_t offset = int_arg(info, 7, "offset", 0, W - rt.T);
  TensorArg values = tensor_arg(info, 0, "values", DType::float32, rt.R * W);
  TensorArg old = tensor_arg(info, 1, "oldValues", DType::float32, rt.n);
  TensorArg returns = tensor_arg(info, 2, "returns", DType::float32, rt.n);
  TensorArg mask = mask_arg(info, 3, rt.n);
  const Device device = common_device({&values, &old, &returns, &mask});

  ValueLossArgs args{};
  args.values = values.as<float>();
  args.old_values = old.as<float>();
  args.returns = returns.as<float>();
  args.mask = mask.data;
  args.mask_u8 = mask.dtype == DType::uint8;
  args.R = rt.R;
  args.T = rt.T;
  args.W = W;
  args.offset = offset;
  args.clip = number_arg(info, 8, "clip");
  if (!(args.clip >= 0.0))  // +inf (no clip) passes, NaN does not
    throw ArgumentError("clip", "Expected a number >= 0 (or Infinity) for clip but received " + std::to_string(args.clip));
  args.coef = number_arg(info, 9, "coef");
  if (!std::isfinite(args.coef))
    throw ArgumentError("coef", "Expected a finite number for coef but received " + std::to_string(args.coef));
  args.token_count = positive_arg(info, 10, "tokenCount");
  const bool async = bool_arg(info, 11, "async");

  Output dvalues(device, DType::float32, rt.R * W);  // on cuda it stays on the device, the loss comes back
  args.dvalues = dvalues.as<float>();
  return run_op<ValueLossResult>(
      info, device, async, [args] { return cpu::value_loss_cpu(args); },
      STEPRL_CUDA_ONLY([args] { return cuda::value_loss_cuda(args); }),
      [dvalues](Napi::Env env, const ValueLossResult& result) {
        return object(env, {{"loss", Napi::Number::New(env, result.loss)}, {"dvalues", dvalues.to_js(env)}});
      },
      {values, old, returns, mask});
}

STEPRL_REGISTER_FUNCTION("valueLoss", ValueLoss);

}  // namespace

}  // namespace steprl
