// ops/adamw.cc: N-API glue for the AdamW step and the gradient norm (cpu/adamw.h).
//   adamw(params, grads, m, v (each n f32, any shape), n, lr, beta1, beta2, eps, weightDecay,
//         step, gradScale)                       params, m, v updated in place
//   gradNorm(grads, n) -> number                 sqrt(sum grads^2), fp64
// Typed arrays run the CPU loops, DeviceBuffers (CUDA and simulator builds) cuda/adamw.cu with the
// arguments folded by the CPU's adamw_args (gradNorm on cuda waits for its result).
#include <cmath>
#include <string>

#include "../cpu/adamw.h"
#include "dispatch.h"
#include "memory_checks.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/adamw.h"
#endif

namespace steprl {
namespace {

double finite_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  const double x = number_arg(info, index, name);
  if (!std::isfinite(x)) throw ArgumentError(name, std::string("Expected a finite number for ") + name + " but received " + std::to_string(x));
  return x;
}

Napi::Value Adamw(const Napi::CallbackInfo& info) {
  require_arity(info, 12, "adamw");
  const int64_t n = int_arg(info, 4, "n", 0, int64_t{1} << 53);
  TensorArg params = tensor_arg(info, 0, "params", DType::float32, n);
  TensorArg grads = tensor_arg(info, 1, "grads", DType::float32, n);
  TensorArg m = tensor_arg(info, 2, "m", DType::float32, n);
  TensorArg v = tensor_arg(info, 3, "v", DType::float32, n);
  const double lr = finite_arg(info, 5, "lr"), beta1 = finite_arg(info, 6, "beta1");
  const double beta2 = finite_arg(info, 7, "beta2"), eps = finite_arg(info, 8, "eps");
  const double weight_decay = finite_arg(info, 9, "weightDecay");
  const int64_t step = int_arg(info, 10, "step", 1, int64_t{1} << 53);
  const double grad_scale = finite_arg(info, 11, "gradScale");
  if (!(beta1 >= 0.0 && beta1 < 1.0)) throw ArgumentError("beta1", "Expected beta1 in [0, 1) but received " + std::to_string(beta1));
  if (!(beta2 >= 0.0 && beta2 < 1.0)) throw ArgumentError("beta2", "Expected beta2 in [0, 1) but received " + std::to_string(beta2));
  const Device device = common_device({&params, &grads, &m, &v});
  const TensorArg* all[] = {&params, &grads, &m, &v};
  const char* names[] = {"params", "grads", "m", "v"};
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 4; ++j) require_disjoint(*all[i], names[i], *all[j], names[j]);
  const AdamwArgs args = cpu::adamw_args(params.as<float>(), m.as<float>(), v.as<float>(), grads.as<float>(), lr, beta1,
                                         beta2, eps, weight_decay, step, grad_scale);
  return run_op(
      info, device, false, [args, n] { cpu::adamw_step_cpu(args, n); },
      STEPRL_CUDA_ONLY([args, n] { cuda::adamw_step_cuda(args, n); }), [](Napi::Env env) { return env.Undefined(); });
}

Napi::Value GradNorm(const Napi::CallbackInfo& info) {
  require_arity(info, 2, "gradNorm");
  const int64_t n = int_arg(info, 1, "n", 0, int64_t{1} << 53);
  TensorArg grads = tensor_arg(info, 0, "grads", DType::float32, n);
  const float* data = grads.as<float>();
  return run_op<double>(
      info, common_device({&grads}), false, [data, n] { return cpu::grad_norm_cpu(data, n); },
      STEPRL_CUDA_ONLY([data, n] { return cuda::grad_norm_cuda(data, n); }),
      [](Napi::Env env, const double& norm) -> Napi::Value { return Napi::Number::New(env, norm); });
}

}  // namespace

void register_adamw(Napi::Object exports) {
  STEPRL_EXPORT(exports, "adamw", Adamw);
  STEPRL_EXPORT(exports, "gradNorm", GradNorm);
}

STEPRL_REGISTER(register_adamw);

}  // namespace steprl
