// ops/swiglu.cc: N-API glue for the SwiGLU gate (cpu/swiglu.h).
//   swiglu(out [N,F], inp [N,2F] = [gate | up], N, F)
//   swigluBf16(out [N,F] bf16, inp [N,2F] f32, N, F)   cuda only: out = silu(gate) * up rounded to bf16
//   swigluBackward(dinp [N,2F] (written), dout [N,F], inp [N,2F], N, F)
// Typed arrays run the CPU kernels, DeviceBuffers (CUDA and simulator builds) cuda/swiglu.cu.
#include "../cpu/swiglu.h"
#include "dispatch.h"
#include "memory_checks.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/swiglu.h"
#endif

namespace steprl {
namespace {

Napi::Value Swiglu(const Napi::CallbackInfo& info) {
  require_arity(info, 4, "swiglu");
  const int64_t N = int_arg(info, 2, "N", 0, kMaxDim), F = int_arg(info, 3, "F", 0, kMaxDim);
  TensorArg out = tensor_arg(info, 0, "out", DType::float32, elements({N, F}));
  TensorArg inp = tensor_arg(info, 1, "inp", DType::float32, elements({N, 2, F}));
  const Device device = common_device({&out, &inp});
  require_disjoint(out, "out", inp, "inp");
  return run_op(
      info, device, false, [=] { cpu::swiglu_forward_cpu(out.as<float>(), inp.as<float>(), N, F); },
      STEPRL_CUDA_ONLY([=] { cuda::swiglu_forward_cuda(out.as<float>(), inp.as<float>(), N, F); }), undefined);
}

// The bf16-output forward runs on cuda only (cuda/swiglu.cu), like rmsnormBf16: a cpu call is a DeviceError.
Napi::Value SwigluBf16(const Napi::CallbackInfo& info) {
  require_arity(info, 4, "swigluBf16");
  const int64_t N = int_arg(info, 2, "N", 0, kMaxDim), F = int_arg(info, 3, "F", 0, kMaxDim);
  TensorArg out = tensor_arg(info, 0, "out", DType::bfloat16, elements({N, F}));
  TensorArg inp = tensor_arg(info, 1, "inp", DType::float32, elements({N, 2, F}));
  const Device device = common_device({&out, &inp});
  if (device != Device::cuda)
    throw DeviceError("Expected out on cuda (swiglu writes a bfloat16 output on cuda only) but received a tensor on cpu");
  require_disjoint(out, "out", inp, "inp");
  return run_op(
      info, device, false, [] {}, STEPRL_CUDA_ONLY([=] { cuda::swiglu_forward_bf16_cuda(out.as<uint16_t>(), inp.as<float>(), N, F); }),
      undefined);
}

Napi::Value SwigluBackward(const Napi::CallbackInfo& info) {
  require_arity(info, 5, "swigluBackward");
  const int64_t N = int_arg(info, 3, "N", 0, kMaxDim), F = int_arg(info, 4, "F", 0, kMaxDim);
  TensorArg dinp = tensor_arg(info, 0, "dinp", DType::float32, elements({N, 2, F}));
  TensorArg dout = tensor_arg(info, 1, "dout", DType::float32, elements({N, F}));
  TensorArg inp = tensor_arg(info, 2, "inp", DType::float32, elements({N, 2, F}));
  const Device device = common_device({&dinp, &dout, &inp});
  require_disjoint(dinp, "dinp", dout, "dout");
  require_disjoint(dinp, "dinp", inp, "inp");
  return run_op(
      info, device, false, [=] { cpu::swiglu_backward_cpu(dinp.as<float>(), dout.as<float>(), inp.as<float>(), N, F); },
      STEPRL_CUDA_ONLY([=] { cuda::swiglu_backward_cuda(dinp.as<float>(), dout.as<float>(), inp.as<float>(), N, F); }), undefined);
}

}  // namespace

void register_swiglu(Napi::Object exports) {
  STEPRL_EXPORT(exports, "swiglu", Swiglu);
  STEPRL_EXPORT(exports, "swigluBackward", SwigluBackward);
  STEPRL_EXPORT(exports, "swigluBf16", SwigluBf16);
}

STEPRL_REGISTER(register_swiglu);

}  // namespace steprl
