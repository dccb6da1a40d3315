// ops/prpo_advantage.cc: N-API glue for prpoAdvantages (ALGORITHMS.md §5.4).
//   prpoAdvantages(tokenScores [R,T] f32, rewards [R] f32, groupIds [R] i32, mask [R,T] f32|u8,
//                  R, T, prior: 'fixed'|'empirical', mu0, sigma0, eps, compat) -> advantages f32 [R,T]
// Group ids are keys, never indices, so they need no range check. Typed arrays run
// native/cpu/prpo_advantage.cc, DeviceBuffers cuda/prpo_advantage.cu, which also checks the mask,
// the rewards and the valid tokens' scores (TypeScript checks them on the cpu).
#include "../cpu/prpo_advantage.h"
#include "advantage_glue.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/prpo_advantage.h"
#include "../device_buffer.h"
#endif

namespace steprl {
namespace {

using namespace advantage_glue;

Napi::Value PrpoAdvantages(const Napi::CallbackInfo& info) {
  require_arity(info, 11, "prpoAdvantages");
  const int64_t R = int_arg(info, 4, "rows", 0, kMaxSteps - 1);
  const int64_t T = int_arg(info, 5, "tokens", 0, kMaxDim);
  if (T != 0 && R > kMaxDim / T) throw ArgumentError("tokens", "Expected R*T below 2^40 but received larger sizes");
  const int64_t n = R * T;
  TensorArg scores = tensor_arg(info, 0, "tokenScores", DType::float32, n);
  TensorArg rewards = tensor_arg(info, 1, "rewards", DType::float32, R);
  TensorArg group_ids = tensor_arg(info, 2, "groupIds", DType::int32, R);
  TensorArg mask = tensor_arg_of(info, 3, "mask", {DType::float32, DType::uint8}, n);
  const std::string prior = string_arg(info, 6);
  if (prior != "fixed" && prior != "empirical")
    throw ArgumentError("prior", "Expected one of fixed, empirical for prior but received " + prior);
  const double mu0 = number_arg(info, 7, "mu0");
  if (!std::isfinite(mu0)) throw ArgumentError("mu0", "Expected a finite number for mu0 but received " + std::to_string(mu0));
  const double sigma0 = positive_arg(info, 8, "sigma0");
  const double eps = positive_arg(info, 9, "eps", true);
  const bool compat = bool_arg(info, 10, "compat");
  const Device device = common_device({&scores, &rewards, &group_ids, &mask});
#if defined(STEPRL_WITH_CUDA)
  if (device == Device::cuda) {
    DeviceTensor advantages(DType::float32, n);
    cuda::prpo_advantage_cuda({advantages.as<float>(), scores.as<float>(), rewards.as<float>(), group_ids.as<int32_t>(),
                               mask.data, mask.dtype == DType::uint8, R, T, prior == "empirical", mu0, sigma0, eps, compat});
    return advantages.to_js(info.Env());
  }
#else
  (void)device;
#endif
  auto advantages = std::make_shared<HostBuffer>(DType::float32, n);
  cpu::PrpoAdvantageArgs args{advantages->as<float>(), scores.as<float>(), rewards.as<float>(), group_ids.as<int32_t>(),
                              mask.data, mask.dtype == DType::uint8, T, prior == "empirical", mu0, sigma0, eps, compat};
  PreparedOp op;
  op.run = [args, R] { cpu::prpo_advantage_cpu(args, R); };
  op.result = [advantages](Napi::Env env) -> Napi::Value { return advantages->release_to_js(env); };
  return finish(info, std::move(op), false);
}

}  // namespace

void register_prpo_advantage(Napi::Object exports) { STEPRL_EXPORT(exports, "prpoAdvantages", PrpoAdvantages); }

}  // namespace steprl
