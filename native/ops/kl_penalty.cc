// ops/kl_penalty.cc: N-API glue for klPenalty.
//   klPenalty(logprobs [n] f32, refLogprobs [n] f32, n, estimator: 'k1'|'k2'|'k3'|'k3+'|'abs', async)
//     -> { kl, dkl }                                         (each f32 [n]; dkl = d kl / d logprobs)
// Element-wise (ALGORITHMS.md §1.3); shapes live in TypeScript, only the element count crosses.
// Typed arrays run the CPU kernels, DeviceBuffers (CUDA and simulator builds) cuda/kl_penalty.cu.
#include <string>

#include "../cpu/kl_penalty.h"
#include "../napi_util.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/kl_penalty.h"
#include "../device_buffer.h"
#endif

namespace steprl {
namespace {

constexpr int64_t kMaxElements = int64_t{1} << 40;

Napi::Value KlPenalty(const Napi::CallbackInfo& info) {
  require_arity(info, 5, "klPenalty");
  const int64_t n = int_arg(info, 2, "elements", 0, kMaxElements);
  TensorArg logprobs = tensor_arg(info, 0, "logprobs", DType::float32, n);
  TensorArg ref = tensor_arg(info, 1, "refLogprobs", DType::float32, n);
  const std::string name = info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "";
  cpu::KlEstimator estimator;
  if (!cpu::kl_estimator_from_name(name.c_str(), &estimator))
    throw ArgumentError("estimator", "Expected one of k1, k2, k3, k3+, abs for estimator but received " + name);
  const bool async = bool_arg(info, 4, "async");
#if defined(STEPRL_WITH_CUDA)
  if (common_device({&logprobs, &ref}) == Device::cuda) {  // cuda/kl_penalty.cu; outputs stay on the device
    DeviceTensor kl(DType::float32, n), dkl(DType::float32, n);
    cuda::KlPenaltyArgs args{kl.as<float>(), dkl.as<float>(), logprobs.as<float>(), ref.as<float>(), n, estimator};
    PreparedOp op;
    op.run = [args, logprobs, ref] { cuda::kl_penalty_cuda(args); };  // the captures keep the inputs alive
    op.result = [kl, dkl](Napi::Env env) -> Napi::Value {
      Napi::Object out = Napi::Object::New(env);
      out.Set("kl", kl.to_js(env));
      out.Set("dkl", dkl.to_js(env));
      return out;
    };
    return finish(info, std::move(op), async);
  }
#endif
  common_device({&logprobs, &ref});

  auto kl = std::make_shared<HostBuffer>(DType::float32, n);
  auto dkl = std::make_shared<HostBuffer>(DType::float32, n);
  cpu::KlPenaltyArgs args{kl->as<float>(), dkl->as<float>(), logprobs.as<float>(), ref.as<float>(), estimator};
  PreparedOp op;
  op.run = [args, n] { cpu::kl_penalty_forward_cpu(args, n); };
  op.result = [kl, dkl](Napi::Env env) -> Napi::Value {
    Napi::Object out = Napi::Object::New(env);
    out.Set("kl", kl->release_to_js(env));
    out.Set("dkl", dkl->release_to_js(env));
    return out;
  };
  return finish(info, std::move(op), async);
}

}  // namespace

void register_kl_penalty(Napi::Object exports) { STEPRL_EXPORT(exports, "klPenalty", KlPenalty); }

}  // namespace steprl
