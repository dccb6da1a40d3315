// ops/weibull_reward.cc: N-API glue for weibullReward (ALGORITHMS.md §3.2).
//   weibullReward(stepScores [S] f32, stepOffsets [R+1] i32, S, R, shaping, aggregate, k, lambda,
//                 peak, minSteps) -> rewards f32 [R]
// The offsets index into stepScores, so they are checked here (start 0, non-decreasing, end S)
// before the kernel reads anything; on cuda (DeviceBuffers) the kernel checks them on the device,
// along with the scores' range, and reports them as the TypeScript layer does for the cpu.
#include <string>

#include "../cpu/weibull_reward.h"
#include "args.h"
#include "dispatch.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/weibull_reward.h"
#endif

namespace steprl {
namespace {

// Not check_step_offsets (include/steprl/step_offsets.h): this op's native words predate it and a test states them.
void check_offsets(const int32_t* offsets, int64_t R, int64_t S) {
  if (offsets[0] != 0)
    throw ArgumentError("stepOffsets", "Expected stepOffsets[0] = 0 but received " + std::to_string(offsets[0]));
  for (int64_t i = 0; i < R; ++i)
    if (offsets[i + 1] < offsets[i])
      throw ArgumentError("stepOffsets", "Expected non-decreasing stepOffsets but received " + std::to_string(offsets[i + 1]) +
                                             " after " + std::to_string(offsets[i]) + " at index " + std::to_string(i + 1));
  if (offsets[R] != S)
    throw ArgumentError("stepOffsets", "Expected stepOffsets[" + std::to_string(R) + "] = " + std::to_string(S) +
                                           " (the number of step scores) but received " + std::to_string(offsets[R]));
}

Napi::Value WeibullReward(const Napi::CallbackInfo& info) {
  require_arity(info, 10, "weibullReward");
  const StepScoreArgs steps = step_score_args(info);
  const int64_t S = steps.S, R = steps.R;
  const TensorArg &scores = steps.scores, &offsets = steps.offsets;
  WeibullRewardArgs args{};
  args.shaping = enum_arg(info, 4, "shaping", cpu::reward_shaping_from_name, "weibull, pspo_ff, linear");
  args.aggregate = enum_arg(info, 5, "aggregate", cpu::step_aggregate_from_name, "geomean, product, min, last");
  args.k = positive_arg(info, 6, "k");
  args.lambda = positive_arg(info, 7, "lambda");
  args.peak = positive_arg(info, 8, "peak");
  args.min_steps = int_arg(info, 9, "minSteps", 0, kMaxSteps);
  const Device device = common_device({&scores, &offsets});
  if (device == Device::cpu) check_offsets(offsets.as<int32_t>(), R, S);  // cuda/weibull_reward.cu checks them itself
  Output rewards(device, DType::float32, R);
  args.rewards = rewards.as<float>();
  args.step_scores = scores.as<float>();
  args.step_offsets = offsets.as<int32_t>();
  args.R = R;
  args.S = S;
  return run_launchers(info, device, false, args, cpu::weibull_reward_cpu,
                       STEPRL_CUDA_ONLY(cuda::weibull_reward_cuda), rewards.as_result());
}

STEPRL_REGISTER_FUNCTION("weibullReward", WeibullReward);

}  // namespace

}  // namespace steprl
