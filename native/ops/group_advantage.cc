// ops/group_advantage.cc: N-API glue for groupAdvantages (ALGORITHMS.md §1.5).
//   groupAdvantages(rewards [R] f32, groupIds [R] i32, R, scale: 'std'|'none'|'rloo', eps,
//                   std: 'unbiased'|'population') -> advantages f32 [R]
// Group ids are keys, never indices, so they need no range check; only sizes are re-checked.
// Typed arrays run the CPU code, DeviceBuffers (CUDA and simulator builds) cuda/group_advantage.cu,
// which also checks that rewards are finite (TypeScript checks them on the cpu only).
#include <cmath>
#include <string>

#include "../cpu/group_advantage.h"
#include "../napi_util.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/group_advantage.h"
#include "../device_buffer.h"
#endif

namespace steprl {
namespace {

constexpr int64_t kMaxRows = int64_t{1} << 40;

std::string string_arg(const Napi::CallbackInfo& info, size_t index) {
  return info[index].IsString() ? info[index].As<Napi::String>().Utf8Value() : "";
}

Napi::Value GroupAdvantages(const Napi::CallbackInfo& info) {
  require_arity(info, 6, "groupAdvantages");
  const int64_t R = int_arg(info, 2, "rows", 0, kMaxRows);
  TensorArg rewards = tensor_arg(info, 0, "rewards", DType::float32, R);
  TensorArg group_ids = tensor_arg(info, 1, "groupIds", DType::int32, R);
  const std::string scale = string_arg(info, 3), std_kind = string_arg(info, 5);
  if (scale != "std" && scale != "none" && scale != "rloo")
    throw ArgumentError("scale", "Expected one of std, none, rloo for scale but received " + scale);
  const bool rloo = scale == "rloo";
  if (std_kind != "unbiased" && std_kind != "population")
    throw ArgumentError("std", "Expected one of unbiased, population for std but received " + std_kind);
  const double eps = number_arg(info, 4, "eps");
  if (!(eps >= 0.0) || !std::isfinite(eps))
    throw ArgumentError("eps", "Expected a finite number >= 0 for eps but received " + std::to_string(eps));
#if defined(STEPRL_WITH_CUDA)
  if (common_device({&rewards, &group_ids}) == Device::cuda) {  // cuda/group_advantage.cu; the result stays there
    DeviceTensor advantages(DType::float32, R);
    cuda::group_advantage_cuda({advantages.as<float>(), rewards.as<float>(), group_ids.as<int32_t>(), R, scale == "std",
                                std_kind == "unbiased", eps, rloo});
    return advantages.to_js(info.Env());
  }
#endif
  common_device({&rewards, &group_ids});

  if (rloo) {  // a one-row group has no "others" to average
    const int64_t row = cpu::first_singleton_row(group_ids.as<int32_t>(), R);
    if (row >= 0)
      throw ArgumentError("groupIds", "Expected at least 2 rows in every group for RLOO but received group id " +
                                          std::to_string(group_ids.as<int32_t>()[row]) + " with 1 row (row " +
                                          std::to_string(row) + ")");
  }
  auto advantages = std::make_shared<HostBuffer>(DType::float32, R);
  cpu::GroupAdvantageArgs args{advantages->as<float>(), rewards.as<float>(), group_ids.as<int32_t>(),
                               scale == "std", std_kind == "unbiased", eps, rloo};
  PreparedOp op;
  op.run = [args, R] { cpu::group_advantage_cpu(args, R); };
  op.result = [advantages](Napi::Env env) -> Napi::Value { return advantages->release_to_js(env); };
  return finish(info, std::move(op), false);
}

}  // namespace

void register_group_advantage(Napi::Object exports) { STEPRL_EXPORT(exports, "groupAdvantages", GroupAdvantages); }

}  // namespace steprl
