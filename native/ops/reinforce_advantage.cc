// ops/reinforce_advantage.cc: N-API glue for reinforceAdvantages (docs/ALGORITHMS-baselines.md §B2).
//   reinforceAdvantages(rewards [R] f32, groupIds [R] i32|null, oldLogprobs|null, refLogprobs|null (f32 [R,T]),
//                       mask [R,T] f32|u8, R, T, klCoef, gamma, normalize)
//     -> { advantages, returns } f32 [R,T] each
// Typed arrays run native/cpu/reinforce_advantage.cc, DeviceBuffers cuda/reinforce_advantage.cu,
// which also checks the mask's values and the rewards' finiteness (TypeScript checks them on the cpu).
#include <string>

#include "../cpu/reinforce_advantage.h"
#include "args.h"
#include "dispatch.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/reinforce_advantage.h"
#endif

namespace steprl {
namespace {

Napi::Value ReinforceAdvantages(const Napi::CallbackInfo& info) {
  require_arity(info, 10, "reinforceAdvantages");
  const RowsTokens shape = rows_tokens_arg(info, 5, 6);
  const int64_t R = shape.R, n = shape.n;
  TensorArg rewards = tensor_arg(info, 0, "rewards", DType::float32, R);
  TensorArg group_ids = optional_tensor_arg(info, 1, "groupIds", DType::int32, R);
  TensorArg old = optional_tensor_arg(info, 2, "oldLogprobs", DType::float32, n);
  TensorArg ref = optional_tensor_arg(info, 3, "refLogprobs", DType::float32, n);
  TensorArg mask = mask_arg(info, 4, n);
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
  Output advantages(device, DType::float32, n), returns(device, DType::float32, n);
  const ReinforceAdvantageArgs args{advantages.as<float>(), returns.as<float>(), rewards.as<float>(), ids, old_data, ref_data,
                                    mask.data, mask.dtype == DType::uint8, shape.T, kl_coef, gamma, normalize, R};
  return run_launchers(info, device, false, args, cpu::reinforce_advantage_cpu,
                       STEPRL_CUDA_ONLY(cuda::reinforce_advantage_cuda),
                       outputs_result({{"advantages", advantages}, {"returns", returns}}));
}

STEPRL_REGISTER_FUNCTION("reinforceAdvantages", ReinforceAdvantages);

}  // namespace

}  // namespace steprl
