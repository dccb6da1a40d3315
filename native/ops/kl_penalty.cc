// ops/kl_penalty.cc: N-API glue for klPenalty.
//   klPenalty(logprobs [n] f32, refLogprobs [n] f32, n, estimator: 'k1'|'k2'|'k3'|'k3+'|'abs', async)
//     -> { kl, dkl }                                         (each f32 [n]; dkl = d kl / d logprobs)
// Element-wise (ALGORITHMS.md §1.3); shapes live in TypeScript, only the element count crosses.
// Typed arrays run the CPU kernels, DeviceBuffers (CUDA and simulator builds) cuda/kl_penalty.cu.
#include "../cpu/kl_penalty.h"
#include "args.h"
#include "dispatch.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/kl_penalty.h"
#endif

namespace steprl {
namespace {

Napi::Value KlPenalty(const Napi::CallbackInfo& info) {
  require_arity(info, 5, "klPenalty");
  const int64_t n = int_arg(info, 2, "elements", 0, kMaxDim);
  TensorArg logprobs = tensor_arg(info, 0, "logprobs", DType::float32, n);
  TensorArg ref = tensor_arg(info, 1, "refLogprobs", DType::float32, n);
  const KlEstimator estimator = enum_arg(info, 3, "estimator", cpu::kl_estimator_from_name, "k1, k2, k3, k3+, abs");
  const bool async = bool_arg(info, 4, "async");
  const Device device = common_device({&logprobs, &ref});
  Output kl(device, DType::float32, n), dkl(device, DType::float32, n);  // on cuda they stay on the device
  const KlPenaltyArgs args{kl.as<float>(), dkl.as<float>(), logprobs.as<float>(), ref.as<float>(), estimator, n};
  return run_op(
      info, device, async, [args] { cpu::kl_penalty_forward_cpu(args, args.n); },
      STEPRL_CUDA_ONLY([args] { cuda::kl_penalty_cuda(args); }),
      outputs_result({{"kl", kl}, {"dkl", dkl}}),
      {logprobs, ref});
}

STEPRL_REGISTER_FUNCTION("klPenalty", KlPenalty);

}  // namespace

}  // namespace steprl
