// ops/reinforce_advantage.cc: N-API glue for reinforceAdvantages (docs/ALGORITHMS-baselines.md §B2).
//   reinforceAdvantages(rewards [R] f32, groupIds [R] i32|null, oldLogprobs|null, refLogprobs|null (f32 [R,T]),
//                       mask [R,T] f32|u8, R, T, klCoef, gamma, normalize)
//     -> { advantages, returns } f32 [R,T] each
// Typed arrays run native/cpu/reinforce_advantage.cc, DeviceBuffers cuda/reinforce_advantage.cu,
// which also checks the mask's values and the rewards' finiteness (TypeScript checks them on the cpu).
#include "../cpu/reinforce_advantage.h"
#include "advantage_glue.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/reinforce_advantage.h"
#include "../device_buffer.h"
#endif

namespace steprl {
namespace {

using namespace advantage_glue;

Napi::Value ReinforceAdvantages(const Napi::CallbackInfo& info) {
  require_arity(info, 10, "reinforceAdvantages");
  const int64_t R = int_arg(info, 5, "rows", 0, kMaxDim);
  const int64_t T = int_arg(info, 6, "tokens", 0, kMaxDim);
  if (T != 0 && R > kMaxDim / T) throw ArgumentError("tokens", "Expected R*T below 2^40 but received larger sizes");
  const int64_t n = R * T;
  TensorArg rewards = tensor_arg(info, 0, "rewards", DType::float32, R);
  TensorArg group_ids = optional_tensor_arg(info, 1, "groupIds", DType::int32, R);
  TensorArg old = optional_tensor_arg(info, 2, "oldLogprobs", DType::float32, n);
  TensorArg ref = optional_tensor_arg(info, 3, "refLogprobs", DType::float32, n);
  TensorArg mask = tensor_arg_of(info, 4, "mask", {DType::float32, DType::uint8}, n);
  const double kl_coef = positive_arg(info, 7, "klCoef", true);
  const double gamma = positive_arg(info, 8, "gamma", true);
  const bool normalize = bool_arg(info, 9, "normalize");
  if (kl_coef != 0.0 && (!old.present || !ref.present))
    throw ArgumentError(old.present ? "refLogprobs" : "oldLogprobs",
                        std::string("Expected ") + (old.present ? "refLogprobs" : "oldLogprobs") +
                            " when klCoef is not 0 but received none");
  const Device device = common_device({&rewards, &group_ids, &old, &ref, &mask});
  const float* old_data = kl_coef != 0.0 ? old.as<float>() : nullptr;
  const float* ref_data = kl_coef != 0.0 ? ref.as<float>() : nullptr;
  const int32_t* ids = group_ids.present ? group_ids.as<int32_t>() : nullptr;
#if defined(STEPRL_WITH_CUDA)
  if (device == Device::cuda) {
    DeviceTensor advantages(DType::float32, n), returns(DType::float32, n);
    cuda::reinforce_advantage_cuda({advantages.as<float>(), returns.as<float>(), rewards.as<float>(), ids, old_data, ref_data,
                                    mask.data, mask.dtype == DType::uint8, R, T, kl_coef, gamma, normalize});
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("advantages", advantages.to_js(info.Env()));
    out.Set("returns", returns.to_js(info.Env()));
    return out;
  }
#else
  (void)device;
#endif
  auto advantages = std::make_shared<HostBuffer>(DType::float32, n);
  auto returns = std::make_shared<HostBuffer>(DType::float32, n);
  cpu::ReinforceAdvantageArgs args{advantages->as<float>(), returns->as<float>(), rewards.as<float>(), ids, old_data,
                                   ref_data, mask.data, mask.dtype == DType::uint8, T, kl_coef, gamma, normalize};
  PreparedOp op;
  op.run = [args, R] { cpu::reinforce_advantage_cpu(args, R); };
  op.result = [advantages, returns](Napi::Env env) -> Napi::Value {
    Napi::Object out = Napi::Object::New(env);
    out.Set("advantages", advantages->release_to_js(env));
    out.Set("returns", returns->release_to_js(env));
    return out;
  };
  return finish(info, std::move(op), false);
}

}  // namespace

void register_reinforce_advantage(Napi::Object exports) {
  STEPRL_EXPORT(exports, "reinforceAdvantages", ReinforceAdvantages);
}

}  // namespace steprl
