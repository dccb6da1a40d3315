// ops/gae.cc: N-API glue for gae (ALGORITHMS.md §1.8).
//   gae(rewards, values [R,T] f32, mask [R,T] f32|u8, R, T, gamma, lambda, whiten)
//     -> { advantages, returns } f32 [R,T] each
// Typed arrays run native/cpu/gae.cc, DeviceBuffers cuda/gae.cu, which also checks the mask's
// values (TypeScript checks them on the cpu).
#include "../cpu/gae.h"
#include "advantage_glue.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/gae.h"
#include "../device_buffer.h"
#endif

namespace steprl {
namespace {

using namespace advantage_glue;

Napi::Value Gae(const Napi::CallbackInfo& info) {
  require_arity(info, 8, "gae");
  const int64_t R = int_arg(info, 3, "rows", 0, kMaxDim);
  const int64_t T = int_arg(info, 4, "tokens", 0, kMaxDim);
  if (T != 0 && R > kMaxDim / T) throw ArgumentError("tokens", "Expected R*T below 2^40 but received larger sizes");
  const int64_t n = R * T;
  TensorArg rewards = tensor_arg(info, 0, "rewards", DType::float32, n);
  TensorArg values = tensor_arg(info, 1, "values", DType::float32, n);
  TensorArg mask = tensor_arg_of(info, 2, "mask", {DType::float32, DType::uint8}, n);
  const double gamma = positive_arg(info, 5, "gamma", true);
  const double lambda = positive_arg(info, 6, "lambda", true);
  const bool whiten = bool_arg(info, 7, "whiten");
  const Device device = common_device({&rewards, &values, &mask});
#if defined(STEPRL_WITH_CUDA)
  if (device == Device::cuda) {
    DeviceTensor advantages(DType::float32, n), returns(DType::float32, n);
    cuda::gae_cuda({advantages.as<float>(), returns.as<float>(), rewards.as<float>(), values.as<float>(), mask.data,
                    mask.dtype == DType::uint8, R, T, gamma, lambda, whiten});
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("advantages", advantages.to_js(info.Env()));
    out.Set("returns", returns.to_js(info.Env()));
    return out;
  }
#else
  (void)device;
#endif
  auto advantages = std::make_shared<HostBuffer>(DType::float32, n);
  auto returns = std::make_shared<HostBuffer>(DType::float32, n);
  cpu::GaeArgs args{advantages->as<float>(), returns->as<float>(), rewards.as<float>(), values.as<float>(), mask.data,
                    mask.dtype == DType::uint8, T, gamma, lambda, whiten};
  PreparedOp op;
  op.run = [args, R] { cpu::gae_cpu(args, R); };
  op.result = [advantages, returns](Napi::Env env) -> Napi::Value {
    Napi::Object out = Napi::Object::New(env);
    out.Set("advantages", advantages->release_to_js(env));
    out.Set("returns", returns->release_to_js(env));
    return out;
  };
  return finish(info, std::move(op), false);
}

}  // namespace

void register_gae(Napi::Object exports) { STEPRL_EXPORT(exports, "gae", Gae); }

}  // namespace steprl
