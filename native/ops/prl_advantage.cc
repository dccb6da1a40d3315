// ops/prl_advantage.cc: N-API glue for prlAdvantages (ALGORITHMS.md §4.3).
//   prlAdvantages(outcomeAdvantages [R] f32, oldLogprobs, refLogprobs [R,T] f32, mask [R,T] f32|u8,
//                 stepEnds [R,T] u8 | null, R, T, eta, mode: 'step'|'token',
//                 suffixStart: 'inclusive'|'next_step') -> advantages f32 [R,T]
// Typed arrays run native/cpu/prl_advantage.cc, DeviceBuffers (CUDA and simulator builds)
// cuda/prl_advantage.cu, which also checks the mask's values (TypeScript checks them on the cpu).
#include <string>

#include "../cpu/prl_advantage.h"
#include "args.h"
#include "dispatch.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/prl_advantage.h"
#endif

namespace steprl {
namespace {

Napi::Value PrlAdvantages(const Napi::CallbackInfo& info) {
  require_arity(info, 10, "prlAdvantages");
  const RowsTokens shape = rows_tokens_arg(info, 5, 6);
  const int64_t n = shape.n;
  TensorArg outcome = tensor_arg(info, 0, "outcomeAdvantages", DType::float32, shape.R);
  TensorArg old = tensor_arg(info, 1, "oldLogprobs", DType::float32, n);
  TensorArg ref = tensor_arg(info, 2, "refLogprobs", DType::float32, n);
  TensorArg mask = mask_arg(info, 3, n);
  TensorArg step_ends = optional_tensor_arg(info, 4, "stepEnds", DType::uint8, n);
  const double eta = positive_arg(info, 7, "eta");
  const std::string mode = string_arg(info, 8), suffix = string_arg(info, 9);
  if (mode != "step" && mode != "token") throw ArgumentError("mode", "Expected one of step, token for mode but received " + mode);
  if (suffix != "inclusive" && suffix != "next_step")
    throw ArgumentError("suffixStart", "Expected one of inclusive, next_step for suffixStart but received " + suffix);
  if (mode == "step" && !step_ends.present)
    throw ArgumentError("stepEnds", "Expected a uint8 tensor for stepEnds in step mode but received none");
  const PrlMode prl_mode = mode == "step" ? PrlMode::step : PrlMode::token;
  const uint8_t* ends = prl_mode == PrlMode::step ? step_ends.as<uint8_t>() : nullptr;
  const Device device = common_device({&outcome, &old, &ref, &mask, &step_ends});
  Output advantages(device, DType::float32, n);
  const PrlAdvantageArgs args{advantages.as<float>(), outcome.as<float>(), old.as<float>(), ref.as<float>(), mask.data,
                              mask.dtype == DType::uint8, ends, shape.T, eta, prl_mode, suffix == "next_step", shape.R};
  return run_launchers(info, device, false, args, cpu::prl_advantage_cpu,
                       STEPRL_CUDA_ONLY(cuda::prl_advantage_cuda), advantages.as_result());
}

STEPRL_REGISTER_FUNCTION("prlAdvantages", PrlAdvantages);

}  // namespace

}  // namespace steprl
