// ops/process_grpo_advantage.cc: N-API glue for processGrpoAdvantages (ALGORITHMS.md §1.6).
//   processGrpoAdvantages(stepRewards [S] f32, stepEnds [S] i32, stepOffsets [R+1] i32,
//                         groupIds [R] i32, mask [R,T] f32|u8, S, R, T, eps) -> advantages f32 [R,T]
// The offsets index into the steps and the step ends into the rows, so both are checked before
// any kernel reads them: here (offsets) and in native/cpu (ends against L_i) for typed arrays; on
// the device by cuda/process_grpo_advantage.cu, which reports them as TypeScript does.
#include "../cpu/process_grpo_advantage.h"
#include "advantage_glue.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/process_grpo_advantage.h"
#include "../device_buffer.h"
#endif

namespace steprl {
namespace {

using namespace advantage_glue;

Napi::Value ProcessGrpoAdvantages(const Napi::CallbackInfo& info) {
  require_arity(info, 9, "processGrpoAdvantages");
  const int64_t S = int_arg(info, 5, "steps", 0, kMaxSteps - 1);
  const int64_t R = int_arg(info, 6, "rows", 0, kMaxSteps - 1);
  const int64_t T = int_arg(info, 7, "tokens", 0, kMaxSteps - 1);  // step ends are int32
  if (T != 0 && R > kMaxDim / T) throw ArgumentError("tokens", "Expected R*T below 2^40 but received larger sizes");
  const int64_t n = R * T;
  TensorArg rewards = tensor_arg(info, 0, "stepRewards", DType::float32, S);
  TensorArg ends = tensor_arg(info, 1, "stepEnds", DType::int32, S);
  TensorArg offsets = tensor_arg(info, 2, "stepOffsets", DType::int32, R + 1);
  TensorArg group_ids = tensor_arg(info, 3, "groupIds", DType::int32, R);
  TensorArg mask = tensor_arg_of(info, 4, "mask", {DType::float32, DType::uint8}, n);
  const double eps = positive_arg(info, 8, "eps", true);
  const Device device = common_device({&rewards, &ends, &offsets, &group_ids, &mask});
#if defined(STEPRL_WITH_CUDA)
  if (device == Device::cuda) {
    DeviceTensor advantages(DType::float32, n);
    cuda::process_grpo_advantage_cuda({advantages.as<float>(), rewards.as<float>(), ends.as<int32_t>(), offsets.as<int32_t>(),
                                       group_ids.as<int32_t>(), mask.data, mask.dtype == DType::uint8, R, T, S, eps});
    return advantages.to_js(info.Env());
  }
#else
  (void)device;
#endif
  check_offsets(offsets.as<int32_t>(), R, S, "steps");
  auto advantages = std::make_shared<HostBuffer>(DType::float32, n);
  cpu::ProcessGrpoAdvantageArgs args{advantages->as<float>(), rewards.as<float>(), ends.as<int32_t>(), offsets.as<int32_t>(),
                                     group_ids.as<int32_t>(), mask.data, mask.dtype == DType::uint8, T, S, eps};
  cpu::process_grpo_advantage_cpu(args, R);  // checks the step ends first (throws), so it runs here
  return advantages->release_to_js(info.Env());
}

}  // namespace

void register_process_grpo_advantage(Napi::Object exports) {
  STEPRL_EXPORT(exports, "processGrpoAdvantages", ProcessGrpoAdvantages);
}

}  // namespace steprl
