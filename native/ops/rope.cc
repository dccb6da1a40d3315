// ops/rope.cc: N-API glue for rotary embeddings (cpu/rope.h). Positions are checked here.
//   rope(out [N,heads*D], inp [N,heads*D], positions [N] i32, N, heads, D, theta, invFreq [D/2]|null)
//     out may be inp
//   ropeBackward(dinp [N,heads*D] (written), dout, positions, N, heads, D, theta, invFreq|null)
//     dinp may be dout
// Typed arrays run the CPU kernel, DeviceBuffers (CUDA and simulator builds) cuda/rope.cu, which
// always takes inv_freq: without invFreq the CPU's rope_inverse_frequencies computes HF's fp32
// frequencies here and they are copied to the device (D/2 floats), so both backends use the same bits.
#include <cmath>
#include <string>
#include <vector>

#include "../cpu/rope.h"
#include "../napi_util.h"
#include "memory_checks.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/rope.h"
#include "../device_buffer.h"
#endif

namespace steprl {
namespace {

Napi::Value RopeEntry(const Napi::CallbackInfo& info, bool backward) {
  const char* op = backward ? "ropeBackward" : "rope";
  const char* out_name = backward ? "dinp" : "out";
  const char* in_name = backward ? "dout" : "inp";
  require_arity(info, 8, op);
  const int64_t N = int_arg(info, 3, "N", 0, kMaxDim), heads = int_arg(info, 4, "heads", 0, kMaxDim);
  const int64_t D = int_arg(info, 5, "headDim", 2, kMaxDim);
  if (D % 2 != 0) throw ArgumentError("headDim", "Expected an even headDim but received " + std::to_string(D));
  const double theta = number_arg(info, 6, "theta");
  if (!(theta > 0.0) || !std::isfinite(theta))
    throw ArgumentError("theta", "Expected a finite number > 0 for theta but received " + std::to_string(theta));
  TensorArg out = tensor_arg(info, 0, out_name, DType::float32, elements({N, heads, D}));
  TensorArg inp = tensor_arg(info, 1, in_name, DType::float32, elements({N, heads, D}));
  TensorArg positions = tensor_arg(info, 2, "positions", DType::int32, N);
  TensorArg inv_freq = optional_tensor_arg(info, 7, "invFreq", DType::float32, D / 2);
  const Device device = common_device({&out, &inp, &positions, &inv_freq});
  require_disjoint(out, out_name, inv_freq, "invFreq");
  require_same_or_disjoint(out, out_name, inp, in_name);
  require_disjoint(out, out_name, positions, "positions");
  const HostInts host_positions(positions);
  const int32_t* p = host_positions.data();
  for (int64_t n = 0; n < N; ++n)
    if (p[n] < 0)
      throw ArgumentError("positions", "Expected every position >= 0 but received " + std::to_string(p[n]) +
                                           " at index " + std::to_string(n));
#if defined(STEPRL_WITH_CUDA)
  if (device == Device::cuda) {
    DeviceTensor computed;
    const float* freq = inv_freq.as<float>();
    if (!inv_freq.present && D / 2 > 0) {
      std::vector<float> host(static_cast<size_t>(D / 2));
      cpu::rope_inverse_frequencies(host.data(), D, theta);
      computed = DeviceTensor(DType::float32, D / 2);
      cuda::copy_to_device(computed.data, host.data(), computed.bytes());
      freq = computed.as<float>();
    }
    cuda::rope_cuda({out.as<float>(), inp.as<float>(), positions.as<int32_t>(), freq, N, heads, D, backward});
    return info.Env().Undefined();  // `computed` returns to the cache; the kernel is ahead of any reuse on the stream
  }
#endif
  (void)device;
  if (backward) cpu::rope_backward_cpu(out.as<float>(), inp.as<float>(), p, N, heads, D, theta, inv_freq.as<float>());
  else cpu::rope_forward_cpu(out.as<float>(), inp.as<float>(), p, N, heads, D, theta, inv_freq.as<float>());
  return info.Env().Undefined();
}

Napi::Value Rope(const Napi::CallbackInfo& info) { return RopeEntry(info, false); }
Napi::Value RopeBackward(const Napi::CallbackInfo& info) { return RopeEntry(info, true); }

}  // namespace

void register_rope(Napi::Object exports) {
  STEPRL_EXPORT(exports, "rope", Rope);
  STEPRL_EXPORT(exports, "ropeBackward", RopeBackward);
}

STEPRL_REGISTER(register_rope);

}  // namespace steprl
