// ops/prm_score.cc: N-API glue for prmScore (ALGORITHMS.md §2).
//   prmScore(stepScores [S] f32, stepOffsets [R+1] i32, S, R, aggregate) -> scores f32 [R]
// The offsets index into stepScores, so they are checked here before the CPU kernel reads
// anything; on cuda (DeviceBuffers) cuda/prm_score.cu checks them on the device, along with the
// scores' range, and reports them as the TypeScript layer does for the cpu.
#include "../cpu/prm_score.h"
#include "args.h"
#include "dispatch.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/prm_score.h"
#endif

namespace steprl {
namespace {

Napi::Value PrmScore(const Napi::CallbackInfo& info) {
  require_arity(info, 5, "prmScore");
  const StepScoreArgs steps = step_score_args(info);
  const int64_t S = steps.S, R = steps.R;
  const TensorArg &scores = steps.scores, &offsets = steps.offsets;
  const StepAggregate aggregate =
      enum_arg(info, 4, "aggregate", cpu::step_aggregate_from_name, "product, min, geomean, last");
  const Device device = common_device({&scores, &offsets});
  if (device == Device::cpu) check_step_offsets(offsets.as<int32_t>(), R, S, "step scores");  // cuda: on the device
  Output out(device, DType::float32, R);
  const PrmScoreArgs args{out.as<float>(), scores.as<float>(), offsets.as<int32_t>(), aggregate, R, S};
  return run_launchers(info, device, false, args, cpu::prm_score_cpu,
                       STEPRL_CUDA_ONLY(cuda::prm_score_cuda), out.as_result());
}

STEPRL_REGISTER_FUNCTION("prmScore", PrmScore);

}  // namespace

}  // namespace steprl
