// ops/rmsnorm.cc: N-API glue for RMSNorm (cpu/rmsnorm.h).
//   rmsnorm(out [N,C], rstd [N], inp [N,C], weight [C], N, C, eps)   out may be inp (in place)
//   rmsnormBf16(out [N,C] f32 | null, outBf16 [N,C] bf16, rstd, inp, weight, N, C, eps)   cuda only:
//     the forward writing y rounded to bf16 (and y in f32 too when out is given; out may be inp)
//   rmsnormBackward(dinp [N,C] +=, dweight [C] +=, dout [N,C], inp, weight, rstd, N, C)
// Typed arrays run the CPU kernels, DeviceBuffers (CUDA and simulator builds) cuda/rmsnorm.cu.
#include <cmath>

#include "../cpu/rmsnorm.h"
#include "dispatch.h"
#include "memory_checks.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/rmsnorm.h"
#endif

namespace steprl {
namespace {

Napi::Value Rmsnorm(const Napi::CallbackInfo& info) {
  require_arity(info, 7, "rmsnorm");
  const int64_t N = int_arg(info, 4, "N", 0, kMaxDim), C = int_arg(info, 5, "C", 1, kMaxDim);
  const double eps = number_arg(info, 6, "eps");
  if (!(eps >= 0.0) || !std::isfinite(eps))
    throw ArgumentError("eps", "Expected a finite number >= 0 for eps but received " + std::to_string(eps));
  TensorArg out = tensor_arg(info, 0, "out", DType::float32, elements({N, C}));
  TensorArg rstd = tensor_arg(info, 1, "rstd", DType::float32, N);
  TensorArg inp = tensor_arg(info, 2, "inp", DType::float32, elements({N, C}));
  TensorArg weight = tensor_arg(info, 3, "weight", DType::float32, C);
  const Device device = common_device({&out, &rstd, &inp, &weight});
  require_same_or_disjoint(out, "out", inp, "inp");
  require_disjoint(out, "out", weight, "weight");
  require_disjoint(out, "out", rstd, "rstd");
  require_disjoint(rstd, "rstd", inp, "inp");
  require_disjoint(rstd, "rstd", weight, "weight");
  const RmsnormForwardArgs args{out.as<float>(), rstd.as<float>(), inp.as<float>(), weight.as<float>(), C,
                                static_cast<float>(eps), N};
  return run_op(
      info, device, false, [args] { cpu::rmsnorm_forward_cpu(args, args.N); },
      STEPRL_CUDA_ONLY([args] { cuda::rmsnorm_forward_cuda(args); }), undefined);
}

// The bf16-output forward runs on cuda only (cuda/rmsnorm.cu): the cpu has no bf16 GEMM input to
// feed (TinyLM's 'bf16-mixed' is cuda-only), so a cpu call is a DeviceError rather than a widened copy.
Napi::Value RmsnormBf16(const Napi::CallbackInfo& info) {
  require_arity(info, 8, "rmsnormBf16");
  const int64_t N = int_arg(info, 5, "N", 0, kMaxDim), C = int_arg(info, 6, "C", 1, kMaxDim);
  const double eps = number_arg(info, 7, "eps");
  if (!(eps >= 0.0) || !std::isfinite(eps))
    throw ArgumentError("eps", "Expected a finite number >= 0 for eps but received " + std::to_string(eps));
  TensorArg out = optional_tensor_arg(info, 0, "out", DType::float32, elements({N, C}));
  TensorArg out_bf16 = tensor_arg(info, 1, "outBf16", DType::bfloat16, elements({N, C}));
  TensorArg rstd = tensor_arg(info, 2, "rstd", DType::float32, N);
  TensorArg inp = tensor_arg(info, 3, "inp", DType::float32, elements({N, C}));
  TensorArg weight = tensor_arg(info, 4, "weight", DType::float32, C);
  const Device device = common_device({&out, &out_bf16, &rstd, &inp, &weight});
  if (device != Device::cuda)
    throw DeviceError("Expected outBf16 on cuda (rmsnorm writes a bfloat16 output on cuda only) but received a tensor on cpu");
  require_same_or_disjoint(out, "out", inp, "inp");
  require_disjoint(out, "out", weight, "weight");
  require_disjoint(out, "out", rstd, "rstd");
  require_disjoint(out, "out", out_bf16, "outBf16");
  for (const TensorArg* t : {&rstd, &inp, &weight}) {
    const char* name = t == &rstd ? "rstd" : t == &inp ? "inp" : "weight";
    require_disjoint(out_bf16, "outBf16", *t, name);
  }
  require_disjoint(rstd, "rstd", inp, "inp");
  require_disjoint(rstd, "rstd", weight, "weight");
  const RmsnormForwardArgs args{out.present ? out.as<float>() : nullptr, rstd.as<float>(), inp.as<float>(), weight.as<float>(), C,
                                static_cast<float>(eps), N};
  return run_op(
      info, device, false, [] {},
      STEPRL_CUDA_ONLY([args, out_bf16] { cuda::rmsnorm_forward_bf16_cuda(args, out_bf16.as<uint16_t>()); }), undefined);
}

Napi::Value RmsnormBackward(const Napi::CallbackInfo& info) {
  require_arity(info, 8, "rmsnormBackward");
  const int64_t N = int_arg(info, 6, "N", 0, kMaxDim), C = int_arg(info, 7, "C", 1, kMaxDim);
  TensorArg dinp = tensor_arg(info, 0, "dinp", DType::float32, elements({N, C}));
  TensorArg dweight = tensor_arg(info, 1, "dweight", DType::float32, C);
  TensorArg dout = tensor_arg(info, 2, "dout", DType::float32, elements({N, C}));
  TensorArg inp = tensor_arg(info, 3, "inp", DType::float32, elements({N, C}));
  TensorArg weight = tensor_arg(info, 4, "weight", DType::float32, C);
  TensorArg rstd = tensor_arg(info, 5, "rstd", DType::float32, N);
  const Device device = common_device({&dinp, &dweight, &dout, &inp, &weight, &rstd});
  for (const TensorArg* o : {&dinp, &dweight}) {
    const char* name = o == &dinp ? "dinp" : "dweight";
    require_disjoint(*o, name, dout, "dout");
    require_disjoint(*o, name, inp, "inp");
    require_disjoint(*o, name, weight, "weight");
    require_disjoint(*o, name, rstd, "rstd");
  }
  require_disjoint(dinp, "dinp", dweight, "dweight");
  const RmsnormBackwardArgs args{dinp.as<float>(), dout.as<float>(), inp.as<float>(),       weight.as<float>(),
                                 rstd.as<float>(), C,                dweight.as<float>(), N};
  return run_op(
      info, device, false, [args] { cpu::rmsnorm_backward_cpu(args); }, STEPRL_CUDA_ONLY([args] { cuda::rmsnorm_backward_cuda(args); }), undefined);
}

}  // namespace

void register_rmsnorm(Napi::Object exports) {
  STEPRL_EXPORT(exports, "rmsnorm", Rmsnorm);
  STEPRL_EXPORT(exports, "rmsnormBackward", RmsnormBackward);
  STEPRL_EXPORT(exports, "rmsnormBf16", RmsnormBf16);
}

STEPRL_REGISTER(register_rmsnorm);

}  // namespace steprl
