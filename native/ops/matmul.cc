// ops/matmul.cc: N-API glue for the linear layer (cpu/matmul_bias.h over cpu/matmul.h's sgemm).
//   matmul(out [N,OC], inp [N,C], weight [OC,C], bias [OC]|null, residual [N,OC]|null, N, C, OC)
//     out = inp . weight^T + bias + residual; residual may be out itself (accumulate)
//   matmulBackward(dinp [N,C]|null, dweight [OC,C]|null, dbias [OC]|null, dout [N,OC], inp, weight,
//                  N, C, OC)                                   every gradient accumulated (+=)
// Typed arrays run the CPU sgemm, DeviceBuffers (CUDA and simulator builds) cuda/matmul.cu; both
// only queue work on the device's stream there.
// inp and weight (and dout) may instead all be bfloat16: the CUDA build then runs the bf16
// tensor-core GEMM of cuda/gemm_bf16.cu (fp32 accumulation); the CPU widens them to fp32 (exact)
// and runs the sgemm. out, bias, residual and the gradients stay float32.
//   matmulSwigluBf16(gu [N,2F] f32, s [N,F] bf16, inp [N,C] bf16, weight [2F,C] bf16, N, C, F)   cuda only:
//     gu = inp . weight^T, s = bf16(silu(gu[:, :F]) * gu[:, F:]) in the GEMM's epilogue
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "../cpu/matmul_bias.h"
#include "../napi_util.h"
#include "args.h"
#include "memory_checks.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/gemm_bf16.h"
#include "../../cuda/matmul.h"
#endif

namespace steprl {
namespace {

// The dtype of the bf16-capable inputs: all float32 or all bfloat16.
DType input_dtype(const TensorArg& first, const char* first_name, std::initializer_list<std::pair<const TensorArg*, const char*>> rest) {
  for (const auto& r : rest) {
    if (r.first->dtype != first.dtype)
      throw ArgumentError(r.second, std::string("Expected ") + r.second + " of the same dtype as " + first_name + " (" +
                                        dtype_name(first.dtype) + ") but received " + dtype_name(r.first->dtype));
  }
  return first.dtype;
}

Napi::Value Matmul(const Napi::CallbackInfo& info) {
  require_arity(info, 8, "matmul");
  const int64_t N = int_arg(info, 5, "N", 0, kMaxDim), C = int_arg(info, 6, "C", 0, kMaxDim);
  const int64_t OC = int_arg(info, 7, "OC", 0, kMaxDim);
  TensorArg out = tensor_arg(info, 0, "out", DType::float32, elements({N, OC}));
  TensorArg inp = float_tensor_arg(info, 1, "inp", elements({N, C}));
  TensorArg weight = float_tensor_arg(info, 2, "weight", elements({OC, C}));
  const bool bf16 = input_dtype(inp, "inp", {{&weight, "weight"}}) == DType::bfloat16;
  TensorArg bias = optional_tensor_arg(info, 3, "bias", DType::float32, OC);
  TensorArg residual = optional_tensor_arg(info, 4, "residual", DType::float32, elements({N, OC}));
  const Device device = common_device({&out, &inp, &weight, &bias, &residual});
  require_disjoint(out, "out", inp, "inp");
  require_disjoint(out, "out", weight, "weight");
  require_disjoint(out, "out", bias, "bias");
  require_same_or_disjoint(out, "out", residual, "residual");
#if defined(STEPRL_WITH_CUDA)
  if (device == Device::cuda && bf16) {
    cuda::matmul_bf16_forward_cuda({out.as<float>(), inp.as<uint16_t>(), weight.as<uint16_t>(), bias.as<float>(),
                                    residual.as<float>(), N, C, OC});
    return info.Env().Undefined();
  }
  if (device == Device::cuda) {
    cuda::matmul_forward_cuda({out.as<float>(), inp.as<float>(), weight.as<float>(), bias.as<float>(), residual.as<float>(),
                               N, C, OC});
    return info.Env().Undefined();
  }
#endif
  (void)device;
  if (bf16) {
    const std::vector<float> inp32 = widen_bf16(inp), weight32 = widen_bf16(weight);
    cpu::matmul_forward_cpu(out.as<float>(), inp32.data(), weight32.data(), bias.as<float>(), residual.as<float>(), N,
                            C, OC);
    return info.Env().Undefined();
  }
  cpu::matmul_forward_cpu(out.as<float>(), inp.as<float>(), weight.as<float>(), bias.as<float>(),
                          residual.as<float>(), N, C, OC);
  return info.Env().Undefined();
}

Napi::Value MatmulBackward(const Napi::CallbackInfo& info) {
  require_arity(info, 9, "matmulBackward");
  const int64_t N = int_arg(info, 6, "N", 0, kMaxDim), C = int_arg(info, 7, "C", 0, kMaxDim);
  const int64_t OC = int_arg(info, 8, "OC", 0, kMaxDim);
  TensorArg dinp = optional_tensor_arg(info, 0, "dinp", DType::float32, elements({N, C}));
  TensorArg dweight = optional_tensor_arg(info, 1, "dweight", DType::float32, elements({OC, C}));
  TensorArg dbias = optional_tensor_arg(info, 2, "dbias", DType::float32, OC);
  TensorArg dout = float_tensor_arg(info, 3, "dout", elements({N, OC}));
  TensorArg inp = float_tensor_arg(info, 4, "inp", elements({N, C}));
  TensorArg weight = float_tensor_arg(info, 5, "weight", elements({OC, C}));
  const bool bf16 = input_dtype(dout, "dout", {{&inp, "inp"}, {&weight, "weight"}}) == DType::bfloat16;
  const Device device = common_device({&dinp, &dweight, &dbias, &dout, &inp, &weight});
  const std::pair<const TensorArg*, const char*> outputs[] = {{&dinp, "dinp"}, {&dweight, "dweight"}, {&dbias, "dbias"}};
  const std::pair<const TensorArg*, const char*> inputs[] = {{&dout, "dout"}, {&inp, "inp"}, {&weight, "weight"}};
  for (const auto& o : outputs) {
    for (const auto& i : inputs) require_disjoint(*o.first, o.second, *i.first, i.second);
    for (const auto& other : outputs)
      if (other.first != o.first) require_disjoint(*o.first, o.second, *other.first, other.second);
  }
#if defined(STEPRL_WITH_CUDA)
  if (device == Device::cuda && bf16) {
    cuda::matmul_bf16_backward_cuda({dinp.as<float>(), dweight.as<float>(), dbias.as<float>(), dout.as<uint16_t>(),
                                     inp.as<uint16_t>(), weight.as<uint16_t>(), N, C, OC});
    return info.Env().Undefined();
  }
  if (device == Device::cuda) {
    cuda::matmul_backward_cuda({dinp.as<float>(), dweight.as<float>(), dbias.as<float>(), dout.as<float>(), inp.as<float>(),
                                weight.as<float>(), N, C, OC});
    return info.Env().Undefined();
  }
#endif
  (void)device;
  if (bf16) {
    const std::vector<float> dout32 = widen_bf16(dout), inp32 = widen_bf16(inp), weight32 = widen_bf16(weight);
    cpu::matmul_backward_cpu(dinp.as<float>(), dweight.as<float>(), dbias.as<float>(), dout32.data(), inp32.data(),
                             weight32.data(), N, C, OC);
    return info.Env().Undefined();
  }
  cpu::matmul_backward_cpu(dinp.as<float>(), dweight.as<float>(), dbias.as<float>(), dout.as<float>(),
                           inp.as<float>(), weight.as<float>(), N, C, OC);
  return info.Env().Undefined();
}

}  // namespace

// Llama's gate/up GEMM with SwiGLU in its epilogue (cuda/gemm_bf16.cu matmul_bf16_swiglu_cuda).
// cuda only: the cpu has no bf16 GEMM to fuse into, so a cpu call is a DeviceError.
Napi::Value MatmulSwigluBf16(const Napi::CallbackInfo& info) {
  require_arity(info, 7, "matmulSwigluBf16");
  const int64_t N = int_arg(info, 4, "N", 0, kMaxDim), C = int_arg(info, 5, "C", 0, kMaxDim);
  const int64_t F = int_arg(info, 6, "F", 0, kMaxDim);
  TensorArg gu = tensor_arg(info, 0, "gu", DType::float32, elements({N, 2, F}));
  TensorArg s = tensor_arg(info, 1, "s", DType::bfloat16, elements({N, F}));
  TensorArg inp = tensor_arg(info, 2, "inp", DType::bfloat16, elements({N, C}));
  TensorArg weight = tensor_arg(info, 3, "weight", DType::bfloat16, elements({2, F, C}));
  const Device device = common_device({&gu, &s, &inp, &weight});
  if (device != Device::cuda)
    throw DeviceError("Expected s on cuda (matmulSwiglu, the GEMM with a SwiGLU epilogue, runs on cuda only) but received a tensor on cpu");
  require_disjoint(gu, "gu", s, "s");
  require_disjoint(gu, "gu", inp, "inp");
  require_disjoint(gu, "gu", weight, "weight");
  require_disjoint(s, "s", inp, "inp");
  require_disjoint(s, "s", weight, "weight");
#if defined(STEPRL_WITH_CUDA)
  cuda::matmul_bf16_swiglu_cuda({gu.as<float>(), s.as<uint16_t>(), inp.as<uint16_t>(), weight.as<uint16_t>(), N, C, F});
#endif
  return info.Env().Undefined();
}

void register_matmul(Napi::Object exports) {
  STEPRL_EXPORT(exports, "matmul", Matmul);
  STEPRL_EXPORT(exports, "matmulBackward", MatmulBackward);
  STEPRL_EXPORT(exports, "matmulSwigluBf16", MatmulSwigluBf16);
}

STEPRL_REGISTER(register_matmul);

}  // namespace steprl
