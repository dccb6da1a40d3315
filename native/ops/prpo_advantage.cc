// ops/prpo_advantage.cc: N-API glue for prpoAdvantages (ALGORITHMS.md §5.4).
//   prpoAdvantages(tokenScores [R,T] f32, rewards [R] f32, groupIds [R] i32, mask [R,T] f32|u8,
//                  R, T, prior: 'fixed'|'empirical', mu0, sigma0, eps, compat) -> advantages f32 [R,T]
// Group ids are keys, never indices, so they need no range check. Typed arrays run
// native/cpu/prpo_advantage.cc, DeviceBuffers cuda/prpo_advantage.cu, which also checks the mask,
// the rewards and the valid tokens' scores (TypeScript checks them on the cpu).
#include <cmath>
#include <string>

#include "../../include/steprl/step_offsets.h"  // kMaxSteps
#include "../cpu/prpo_advantage.h"
#include "args.h"
#include "dispatch.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/prpo_advantage.h"
#endif

namespace steprl {
namespace {

Napi::Value PrpoAdvantages(const Napi::CallbackInfo& info) {
  require_arity(info, 11, "prpoAdvantages");
  const RowsTokens shape = rows_tokens_arg(info, 4, 5, kMaxSteps - 1);
  const int64_t R = shape.R, n = shape.n;
  TensorArg scores = tensor_arg(info, 0, "tokenScores", DType::float32, n);
  TensorArg rewards = tensor_arg(info, 1, "rewards", DType::float32, R);
  TensorArg group_ids = tensor_arg(info, 2, "groupIds", DType::int32, R);
  TensorArg mask = mask_arg(info, 3, n);
  const std::string prior = string_arg(info, 6);
  if (prior != "fixed" && prior != "empirical")
    throw ArgumentError("prior", "Expected one of fixed, empirical for prior but received " + prior);
  const double mu0 = number_arg(info, 7, "mu0");
  if (!std::isfinite(mu0)) throw ArgumentError("mu0", "Expected a finite number for mu0 but received " + std::to_string(mu0));
  const double sigma0 = positive_arg(info, 8, "sigma0");
  const double eps = positive_arg(info, 9, "eps", true);
  const bool compat = bool_arg(info, 10, "compat");
  const Device device = common_device({&scores, &rewards, &group_ids, &mask});
  Output advantages(device, DType::float32, n);
  const PrpoAdvantageArgs args{advantages.as<float>(), scores.as<float>(), rewards.as<float>(), group_ids.as<int32_t>(),
                               mask.data, mask.dtype == DType::uint8, shape.T, prior == "empirical", mu0, sigma0, eps, compat, R};
  return run_launchers(info, device, false, args, cpu::prpo_advantage_cpu,
                       STEPRL_CUDA_ONLY(cuda::prpo_advantage_cuda), advantages.as_result());
}

STEPRL_REGISTER_FUNCTION("prpoAdvantages", PrpoAdvantages);

}  // namespace

}  // namespace steprl
