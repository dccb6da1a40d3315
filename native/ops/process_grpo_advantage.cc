// ops/process_grpo_advantage.cc: N-API glue for processGrpoAdvantages (ALGORITHMS.md §1.6).
//   processGrpoAdvantages(stepRewards [S] f32, stepEnds [S] i32, stepOffsets [R+1] i32,
//                         groupIds [R] i32, mask [R,T] f32|u8, S, R, T, eps) -> advantages f32 [R,T]
// The offsets index into the steps and the step ends into the rows, so both are checked before
// any kernel reads them: here (offsets) and in native/cpu (ends against L_i) for typed arrays; on
// the device by cuda/process_grpo_advantage.cu, which reports them as TypeScript does.
#include "../cpu/process_grpo_advantage.h"
#include "args.h"
#include "dispatch.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/process_grpo_advantage.h"
#endif

namespace steprl {
namespace {

Napi::Value ProcessGrpoAdvantages(const Napi::CallbackInfo& info) {
  require_arity(info, 9, "processGrpoAdvantages");
  const int64_t S = int_arg(info, 5, "steps", 0, kMaxSteps - 1);
  const RowsTokens shape = rows_tokens_arg(info, 6, 7, kMaxSteps - 1, kMaxSteps - 1);  // step ends are int32
  const int64_t R = shape.R, n = shape.n;
  TensorArg rewards = tensor_arg(info, 0, "stepRewards", DType::float32, S);
  TensorArg ends = tensor_arg(info, 1, "stepEnds", DType::int32, S);
  TensorArg offsets = tensor_arg(info, 2, "stepOffsets", DType::int32, R + 1);
  TensorArg group_ids = tensor_arg(info, 3, "groupIds", DType::int32, R);
  TensorArg mask = mask_arg(info, 4, n);
  const double eps = positive_arg(info, 8, "eps", true);
  const Device device = common_device({&rewards, &ends, &offsets, &group_ids, &mask});
  if (device == Device::cpu) check_step_offsets(offsets.as<int32_t>(), R, S, "steps");  // cuda checks them on the device
  Output advantages(device, DType::float32, n);
  const ProcessGrpoAdvantageArgs args{advantages.as<float>(), rewards.as<float>(), ends.as<int32_t>(), offsets.as<int32_t>(),
                                      group_ids.as<int32_t>(), mask.data, mask.dtype == DType::uint8, shape.T, S, eps, R};
  // Sync only: the cpu kernel checks the step ends first and throws.
  return run_launchers(info, device, false, args, cpu::process_grpo_advantage_cpu,
                       STEPRL_CUDA_ONLY(cuda::process_grpo_advantage_cuda), advantages.as_result());
}

STEPRL_REGISTER_FUNCTION("processGrpoAdvantages", ProcessGrpoAdvantages);

}  // namespace

}  // namespace steprl
