// ops/prm_score.cc: N-API glue for prmScore (ALGORITHMS.md §2).
//   prmScore(stepScores [S] f32, stepOffsets [R+1] i32, S, R, aggregate) -> scores f32 [R]
// The offsets index into stepScores, so they are checked here before the CPU kernel reads
// anything; on cuda (DeviceBuffers) cuda/prm_score.cu checks them on the device, along with the
// scores' range, and reports them as the TypeScript layer does for the cpu.
#include "../cpu/prm_score.h"
#include "advantage_glue.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/prm_score.h"
#include "../device_buffer.h"
#endif

namespace steprl {
namespace {

using namespace advantage_glue;

Napi::Value PrmScore(const Napi::CallbackInfo& info) {
  require_arity(info, 5, "prmScore");
  const StepScoreArgs steps = step_score_args(info);
  const int64_t S = steps.S, R = steps.R;
  const TensorArg &scores = steps.scores, &offsets = steps.offsets;
  cpu::StepAggregate aggregate{};
  if (!cpu::step_aggregate_from_name(string_arg(info, 4).c_str(), &aggregate))
    throw ArgumentError("aggregate", "Expected one of product, min, geomean, last for aggregate but received " + string_arg(info, 4));
  const Device device = common_device({&scores, &offsets});
#if defined(STEPRL_WITH_CUDA)
  if (device == Device::cuda) {
    DeviceTensor out(DType::float32, R);
    cuda::prm_score_cuda({out.as<float>(), scores.as<float>(), offsets.as<int32_t>(), R, S, aggregate});
    return out.to_js(info.Env());
  }
#else
  (void)device;
#endif
  check_offsets(offsets.as<int32_t>(), R, S, "step scores");
  auto out = std::make_shared<HostBuffer>(DType::float32, R);
  cpu::PrmScoreArgs args{out->as<float>(), scores.as<float>(), offsets.as<int32_t>(), aggregate};
  PreparedOp op;
  op.run = [args, R] { cpu::prm_score_cpu(args, R); };
  op.result = [out](Napi::Env env) -> Napi::Value { return out->release_to_js(env); };
  return finish(info, std::move(op), false);
}

}  // namespace

void register_prm_score(Napi::Object exports) { STEPRL_EXPORT(exports, "prmScore", PrmScore); }

}  // namespace steprl
