// ops/attention.cc: N-API glue for causal GQA attention (cpu/attention.h). kvStart is checked here.
//   attention(out [B,T,H,D], lse [B,H,T], q [B,T,H,D], k [B,Smax,KVH,D], v, kvStart [B] i32|null,
//             B, T, H, KVH, D, S, Smax, scale)
//   attentionBackward(dq [B,T,H,D] +=, dk [B,Smax,KVH,D] +=, dv +=, dout, out, lse, q, k, v,
//                     kvStart|null, B, T, H, KVH, D, S, Smax, scale)
// Typed arrays run the CPU kernels, DeviceBuffers (CUDA and simulator builds) cuda/attention.cu
// (head sizes up to 256 there); kvStart is range-checked on the host either way (copied back
// from the device, B ints).
// q, k, v (and dout) may instead all be bfloat16 (out, lse and the gradients stay float32): the
// CUDA build then runs cuda/flash_attention.cu (tensor-core forward and backward), the CPU widens
// them to fp32 (exact) and runs the fp32 kernels.
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "../cpu/attention.h"
#include "args.h"
#include "dispatch.h"
#include "memory_checks.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/attention.h"
#include "../../cuda/flash_attention.h"
#endif

namespace steprl {
namespace {

AttentionShape shape_args(const Napi::CallbackInfo& info, size_t first) {
  AttentionShape s;
  s.B = int_arg(info, first, "B", 0, kMaxDim);
  s.T = int_arg(info, first + 1, "T", 0, kMaxDim);
  s.H = int_arg(info, first + 2, "H", 1, kMaxDim);
  s.KVH = int_arg(info, first + 3, "KVH", 1, kMaxDim);
  s.D = int_arg(info, first + 4, "D", 1, kMaxDim);
  s.S = int_arg(info, first + 5, "kvLength", 0, kMaxDim);
  s.Smax = int_arg(info, first + 6, "Smax", 0, kMaxDim);
  const double scale = number_arg(info, first + 7, "scale");
  if (!std::isfinite(scale)) throw ArgumentError("scale", "Expected a finite number for scale but received " + std::to_string(scale));
  s.scale = static_cast<float>(scale);
  if (s.H % s.KVH != 0)
    throw ArgumentError("KVH", "Expected H divisible by KVH but received H = " + std::to_string(s.H) + ", KVH = " + std::to_string(s.KVH));
  if (s.S < s.T || s.S > s.Smax)
    throw ArgumentError("kvLength", "Expected kvLength between T = " + std::to_string(s.T) + " and Smax = " +
                                        std::to_string(s.Smax) + " but received " + std::to_string(s.S));
  return s;
}

void check_kv_start(const TensorArg& kv_start, int64_t S) {
  const HostInts host(kv_start);
  const int32_t* p = host.data();
  for (int64_t b = 0; kv_start.present && b < kv_start.numel; ++b)
    if (p[b] < 0 || p[b] > S)
      throw ArgumentError("kvStart", "Expected every kvStart in [0, " + std::to_string(S) + "] but received " +
                                         std::to_string(p[b]) + " at index " + std::to_string(b));
}

// cuda/attention.cu keeps a head in shared memory: D up to cuda::kAttentionMaxHeadDim.
void check_head_size(Device device, const AttentionShape& s) {
#if defined(STEPRL_WITH_CUDA)
  if (device == Device::cuda && s.D > cuda::kAttentionMaxHeadDim)
    throw ArgumentError("D", "Expected a head size D <= " + std::to_string(cuda::kAttentionMaxHeadDim) +
                                 " for attention on cuda but received " + std::to_string(s.D));
#else
  (void)device;
  (void)s;
#endif
}

// All of q, k, v (and dout) float32, or all bfloat16.
bool bf16_inputs(const TensorArg& q, std::initializer_list<std::pair<const TensorArg*, const char*>> rest) {
  for (const auto& r : rest)
    if (r.first->dtype != q.dtype)
      throw ArgumentError(r.second, std::string("Expected ") + r.second + " of the same dtype as q (" + dtype_name(q.dtype) +
                                        ") but received " + dtype_name(r.first->dtype));
  return q.dtype == DType::bfloat16;
}

Napi::Value Attention(const Napi::CallbackInfo& info) {
  require_arity(info, 14, "attention");
  const AttentionShape s = shape_args(info, 6);
  const int64_t nq = elements({s.B, s.T, s.H, s.D}), nkv = elements({s.B, s.Smax, s.KVH, s.D});
  TensorArg out = tensor_arg(info, 0, "out", DType::float32, nq);
  TensorArg lse = tensor_arg(info, 1, "lse", DType::float32, elements({s.B, s.H, s.T}));
  TensorArg q = float_tensor_arg(info, 2, "q", nq);
  TensorArg k = float_tensor_arg(info, 3, "k", nkv);
  TensorArg v = float_tensor_arg(info, 4, "v", nkv);
  const bool bf16 = bf16_inputs(q, {{&k, "k"}, {&v, "v"}});
  TensorArg kv_start = optional_tensor_arg(info, 5, "kvStart", DType::int32, s.B);
  const Device device = common_device({&out, &lse, &q, &k, &v, &kv_start});
  for (const auto& [o, name] : {std::pair<const TensorArg*, const char*>{&out, "out"}, {&lse, "lse"}}) {
    require_disjoint(*o, name, q, "q");
    require_disjoint(*o, name, k, "k");
    require_disjoint(*o, name, v, "v");
    require_disjoint(*o, name, kv_start, "kvStart");
  }
  require_disjoint(out, "out", lse, "lse");
  check_kv_start(kv_start, s.S);
  check_head_size(device, s);
  if (bf16) {
#if defined(STEPRL_WITH_CUDA)
    if (device == Device::cuda) {
      cuda::attention_bf16_forward_cuda({out.as<float>(), lse.as<float>(), q.as<uint16_t>(), k.as<uint16_t>(),
                                         v.as<uint16_t>(), kv_start.as<int32_t>(), s});
      return info.Env().Undefined();
    }
#endif
    const std::vector<float> q32 = widen_bf16(q), k32 = widen_bf16(k), v32 = widen_bf16(v);
    cpu::attention_forward_cpu({out.as<float>(), lse.as<float>(), q32.data(), k32.data(), v32.data(),
                                kv_start.as<int32_t>(), s});
    return info.Env().Undefined();
  }
  const AttentionForwardArgs args{out.as<float>(), lse.as<float>(), q.as<float>(), k.as<float>(), v.as<float>(),
                                  kv_start.as<int32_t>(), s};
  return run_op(
      info, device, false, [args] { cpu::attention_forward_cpu(args); },
      STEPRL_CUDA_ONLY([args] { cuda::attention_forward_cuda(args); }), undefined);
}

Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  require_arity(info, 18, "attentionBackward");
  const AttentionShape s = shape_args(info, 10);
  const int64_t nq = elements({s.B, s.T, s.H, s.D}), nkv = elements({s.B, s.Smax, s.KVH, s.D});
  TensorArg dq = tensor_arg(info, 0, "dq", DType::float32, nq);
  TensorArg dk = tensor_arg(info, 1, "dk", DType::float32, nkv);
  TensorArg dv = tensor_arg(info, 2, "dv", DType::float32, nkv);
  TensorArg dout = float_tensor_arg(info, 3, "dout", nq);
  TensorArg out = tensor_arg(info, 4, "out", DType::float32, nq);
  TensorArg lse = tensor_arg(info, 5, "lse", DType::float32, elements({s.B, s.H, s.T}));
  TensorArg q = float_tensor_arg(info, 6, "q", nq);
  TensorArg k = float_tensor_arg(info, 7, "k", nkv);
  TensorArg v = float_tensor_arg(info, 8, "v", nkv);
  const bool bf16 = bf16_inputs(q, {{&k, "k"}, {&v, "v"}, {&dout, "dout"}});
  TensorArg kv_start = optional_tensor_arg(info, 9, "kvStart", DType::int32, s.B);
  const Device device = common_device({&dq, &dk, &dv, &dout, &out, &lse, &q, &k, &v, &kv_start});
  using Named = std::pair<const TensorArg*, const char*>;
  const Named grads[] = {{&dq, "dq"}, {&dk, "dk"}, {&dv, "dv"}};
  const Named inputs[] = {{&dout, "dout"}, {&out, "out"}, {&lse, "lse"}, {&q, "q"}, {&k, "k"}, {&v, "v"}, {&kv_start, "kvStart"}};
  for (const Named& g : grads) {
    for (const Named& i : inputs) require_disjoint(*g.first, g.second, *i.first, i.second);
    for (const Named& other : grads)
      if (other.first != g.first) require_disjoint(*g.first, g.second, *other.first, other.second);
  }
  check_kv_start(kv_start, s.S);
  check_head_size(device, s);
  if (bf16) {
#if defined(STEPRL_WITH_CUDA)
    if (device == Device::cuda) {
      cuda::attention_bf16_backward_cuda({dq.as<float>(), dk.as<float>(), dv.as<float>(), dout.as<uint16_t>(),
                                          out.as<float>(), lse.as<float>(), q.as<uint16_t>(), k.as<uint16_t>(),
                                          v.as<uint16_t>(), kv_start.as<int32_t>(), s});
      return info.Env().Undefined();
    }
#endif
    const std::vector<float> dout32 = widen_bf16(dout), q32 = widen_bf16(q), k32 = widen_bf16(k), v32 = widen_bf16(v);
    cpu::attention_backward_cpu({dq.as<float>(), dk.as<float>(), dv.as<float>(), dout32.data(), out.as<float>(),
                                 lse.as<float>(), q32.data(), k32.data(), v32.data(), kv_start.as<int32_t>(), s});
    return info.Env().Undefined();
  }
  const AttentionBackwardArgs args{dq.as<float>(), dk.as<float>(), dv.as<float>(), dout.as<float>(), out.as<float>(),
                                   lse.as<float>(), q.as<float>(), k.as<float>(), v.as<float>(), kv_start.as<int32_t>(), s};
  return run_op(
      info, device, false, [args] { cpu::attention_backward_cpu(args); },
      STEPRL_CUDA_ONLY([args] { cuda::attention_backward_cuda(args); }), undefined);
}

}  // namespace

void register_attention(Napi::Object exports) {
  STEPRL_EXPORT(exports, "attention", Attention);
  STEPRL_EXPORT(exports, "attentionBackward", AttentionBackward);
}

STEPRL_REGISTER(register_attention);

}  // namespace steprl
