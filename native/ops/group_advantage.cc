// ops/group_advantage.cc: N-API glue for groupAdvantages (ALGORITHMS.md §1.5).
//   groupAdvantages(rewards [R] f32, groupIds [R] i32, R, scale: 'std'|'none'|'rloo', eps,
//                   std: 'unbiased'|'population') -> advantages f32 [R]
// Group ids are keys, never indices, so they need no range check; only sizes are re-checked.
// Typed arrays run the CPU code, DeviceBuffers (CUDA and simulator builds) cuda/group_advantage.cu,
// which also checks that rewards are finite (TypeScript checks them on the cpu only).
#include <string>

#include "../cpu/group_advantage.h"
#include "args.h"
#include "dispatch.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/group_advantage.h"
#endif

namespace steprl {
namespace {

Napi::Value GroupAdvantages(const Napi::CallbackInfo& info) {
  require_arity(info, 6, "groupAdvantages");
  const int64_t R = int_arg(info, 2, "rows", 0, kMaxDim);
  TensorArg rewards = tensor_arg(info, 0, "rewards", DType::float32, R);
  TensorArg group_ids = tensor_arg(info, 1, "groupIds", DType::int32, R);
  const std::string scale = string_arg(info, 3), std_kind = string_arg(info, 5);
  if (scale != "std" && scale != "none" && scale != "rloo")
    throw ArgumentError("scale", "Expected one of std, none, rloo for scale but received " + scale);
  const bool rloo = scale == "rloo";
  if (std_kind != "unbiased" && std_kind != "population")
    throw ArgumentError("std", "Expected one of unbiased, population for std but received " + std_kind);
  const double eps = positive_arg(info, 4, "eps", true);
  const Device device = common_device({&rewards, &group_ids});
  if (rloo && device == Device::cpu) {  // a one-row group has no "others" to average (cuda checks on the device)
    const int64_t row = cpu::first_singleton_row(group_ids.as<int32_t>(), R);
    if (row >= 0)
      throw ArgumentError("groupIds", "Expected at least 2 rows in every group for RLOO but received group id " +
                                          std::to_string(group_ids.as<int32_t>()[row]) + " with 1 row (row " +
                                          std::to_string(row) + ")");
  }
  Output advantages(device, DType::float32, R);
  const GroupAdvantageArgs args{advantages.as<float>(), rewards.as<float>(), group_ids.as<int32_t>(), scale == "std",
                                std_kind == "unbiased", eps, rloo, R};
  return run_launchers(info, device, false, args, cpu::group_advantage_cpu,
                       STEPRL_CUDA_ONLY(cuda::group_advantage_cuda), advantages.as_result());
}

STEPRL_REGISTER_FUNCTION("groupAdvantages", GroupAdvantages);

}  // namespace

}  // namespace steprl
