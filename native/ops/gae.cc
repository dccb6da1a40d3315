// ops/gae.cc: N-API glue for gae (ALGORITHMS.md §1.8).
//   gae(rewards, values [R,T] f32, mask [R,T] f32|u8, R, T, gamma, lambda, whiten)
//     -> { advantages, returns } f32 [R,T] each
// Typed arrays run native/cpu/gae.cc, DeviceBuffers cuda/gae.cu, which also checks the mask's
// values (TypeScript checks them on the cpu).
#include "../cpu/gae.h"
#include "args.h"
#include "dispatch.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/gae.h"
#endif

namespace steprl {
namespace {

Napi::Value Gae(const Napi::CallbackInfo& info) {
  require_arity(info, 8, "gae");
  const RowsTokens shape = rows_tokens_arg(info, 3, 4);
  TensorArg rewards = tensor_arg(info, 0, "rewards", DType::float32, shape.n);
  TensorArg values = tensor_arg(info, 1, "values", DType::float32, shape.n);
  TensorArg mask = mask_arg(info, 2, shape.n);
  const double gamma = positive_arg(info, 5, "gamma", true);
  const double lambda = positive_arg(info, 6, "lambda", true);
  const bool whiten = bool_arg(info, 7, "whiten");
  const Device device = common_device({&rewards, &values, &mask});
  Output advantages(device, DType::float32, shape.n), returns(device, DType::float32, shape.n);
  const GaeArgs args{advantages.as<float>(), returns.as<float>(), rewards.as<float>(), values.as<float>(), mask.data,
                     mask.dtype == DType::uint8, shape.T, gamma, lambda, whiten, shape.R};
  return run_launchers(info, device, false, args, cpu::gae_cpu, STEPRL_CUDA_ONLY(cuda::gae_cuda),
                       outputs_result({{"advantages", advantages}, {"returns", returns}}));
}

STEPRL_REGISTER_FUNCTION("gae", Gae);

}  // namespace

}  // namespace steprl
