// ops/prl_advantage.cc: N-API glue for prlAdvantages (ALGORITHMS.md §4.3).
//   prlAdvantages(outcomeAdvantages [R] f32, oldLogprobs, refLogprobs [R,T] f32, mask [R,T] f32|u8,
//                 stepEnds [R,T] u8 | null, R, T, eta, mode: 'step'|'token',
//                 suffixStart: 'inclusive'|'next_step') -> advantages f32 [R,T]
// Typed arrays run native/cpu/prl_advantage.cc, DeviceBuffers (CUDA and simulator builds)
// cuda/prl_advantage.cu, which also checks the mask's values (TypeScript checks them on the cpu).
#include "../cpu/prl_advantage.h"
#include "advantage_glue.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/prl_advantage.h"
#include "../device_buffer.h"
#endif

namespace steprl {
namespace {

using namespace advantage_glue;

Napi::Value PrlAdvantages(const Napi::CallbackInfo& info) {
  require_arity(info, 10, "prlAdvantages");
  const int64_t R = int_arg(info, 5, "rows", 0, kMaxDim);
  const int64_t T = int_arg(info, 6, "tokens", 0, kMaxDim);
  if (T != 0 && R > kMaxDim / T) throw ArgumentError("tokens", "Expected R*T below 2^40 but received larger sizes");
  const int64_t n = R * T;
  TensorArg outcome = tensor_arg(info, 0, "outcomeAdvantages", DType::float32, R);
  TensorArg old = tensor_arg(info, 1, "oldLogprobs", DType::float32, n);
  TensorArg ref = tensor_arg(info, 2, "refLogprobs", DType::float32, n);
  TensorArg mask = tensor_arg_of(info, 3, "mask", {DType::float32, DType::uint8}, n);
  TensorArg step_ends = optional_tensor_arg(info, 4, "stepEnds", DType::uint8, n);
  const double eta = positive_arg(info, 7, "eta");
  const std::string mode = string_arg(info, 8), suffix = string_arg(info, 9);
  if (mode != "step" && mode != "token") throw ArgumentError("mode", "Expected one of step, token for mode but received " + mode);
  if (suffix != "inclusive" && suffix != "next_step")
    throw ArgumentError("suffixStart", "Expected one of inclusive, next_step for suffixStart but received " + suffix);
  if (mode == "step" && !step_ends.present)
    throw ArgumentError("stepEnds", "Expected a uint8 tensor for stepEnds in step mode but received none");
  const cpu::PrlMode prl_mode = mode == "step" ? cpu::PrlMode::step : cpu::PrlMode::token;
  const uint8_t* ends = prl_mode == cpu::PrlMode::step ? step_ends.as<uint8_t>() : nullptr;
  const Device device = common_device({&outcome, &old, &ref, &mask, &step_ends});
#if defined(STEPRL_WITH_CUDA)
  if (device == Device::cuda) {  // cuda/prl_advantage.cu; the result stays there
    DeviceTensor advantages(DType::float32, n);
    cuda::prl_advantage_cuda({advantages.as<float>(), outcome.as<float>(), old.as<float>(), ref.as<float>(), mask.data,
                              mask.dtype == DType::uint8, ends, R, T, eta, prl_mode, suffix == "next_step"});
    return advantages.to_js(info.Env());
  }
#else
  (void)device;
#endif
  auto advantages = std::make_shared<HostBuffer>(DType::float32, n);
  cpu::PrlAdvantageArgs args{advantages->as<float>(), outcome.as<float>(), old.as<float>(), ref.as<float>(), mask.data,
                             mask.dtype == DType::uint8, ends, T, eta, prl_mode, suffix == "next_step"};
  PreparedOp op;
  op.run = [args, R] { cpu::prl_advantage_cpu(args, R); };
  op.result = [advantages](Napi::Env env) -> Napi::Value { return advantages->release_to_js(env); };
  return finish(info, std::move(op), false);
}

}  // namespace

void register_prl_advantage(Napi::Object exports) { STEPRL_EXPORT(exports, "prlAdvantages", PrlAdvantages); }

}  // namespace steprl
