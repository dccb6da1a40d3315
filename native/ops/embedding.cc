// ops/embedding.cc: N-API glue for the token embedding (cpu/embedding.h). Tokens are
// range-checked here: they index into the table.
//   embedding(out [N,C], tokens [N] i32, table [V,C], N, C, V)
//   embeddingBackward(dtable [V,C] +=, dout [N,C], tokens [N] i32, N, C, V)
// Typed arrays run the CPU kernels, DeviceBuffers (CUDA and simulator builds) cuda/embedding.cu;
// device tokens are copied back (N ints) for the range check before any kernel reads the table.
#include <string>

#include "../cpu/embedding.h"
#include "dispatch.h"
#include "memory_checks.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/embedding.h"
#endif

namespace steprl {
namespace {

void check_tokens(const TensorArg& tokens, int64_t V) {
  const HostInts host(tokens);
  const int32_t* t = host.data();
  for (int64_t i = 0; i < tokens.numel; ++i)
    if (t[i] < 0 || t[i] >= V)
      throw ArgumentError("tokens", "Expected every token in [0, " + std::to_string(V) + ") but received " +
                                        std::to_string(t[i]) + " at index " + std::to_string(i));
}

Napi::Value Embedding(const Napi::CallbackInfo& info) {
  require_arity(info, 6, "embedding");
  const int64_t N = int_arg(info, 3, "N", 0, int64_t{1} << 31), C = int_arg(info, 4, "C", 0, kMaxDim);
  const int64_t V = int_arg(info, 5, "V", 0, kMaxDim);
  TensorArg out = tensor_arg(info, 0, "out", DType::float32, elements({N, C}));
  TensorArg tokens = tensor_arg(info, 1, "tokens", DType::int32, N);
  TensorArg table = tensor_arg(info, 2, "table", DType::float32, elements({V, C}));
  const Device device = common_device({&out, &tokens, &table});
  require_disjoint(out, "out", table, "table");
  require_disjoint(out, "out", tokens, "tokens");
  check_tokens(tokens, V);
  return run_op(
      info, device, false, [=] { cpu::embedding_forward_cpu(out.as<float>(), tokens.as<int32_t>(), table.as<float>(), N, C); },
      STEPRL_CUDA_ONLY([=] { cuda::embedding_forward_cuda(out.as<float>(), tokens.as<int32_t>(), table.as<float>(), N, C); }), undefined);
}

Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  require_arity(info, 6, "embeddingBackward");
  const int64_t N = int_arg(info, 3, "N", 0, int64_t{1} << 31), C = int_arg(info, 4, "C", 0, kMaxDim);
  const int64_t V = int_arg(info, 5, "V", 0, kMaxDim);
  TensorArg dtable = tensor_arg(info, 0, "dtable", DType::float32, elements({V, C}));
  TensorArg dout = tensor_arg(info, 1, "dout", DType::float32, elements({N, C}));
  TensorArg tokens = tensor_arg(info, 2, "tokens", DType::int32, N);
  const Device device = common_device({&dtable, &dout, &tokens});
  require_disjoint(dtable, "dtable", dout, "dout");
  require_disjoint(dtable, "dtable", tokens, "tokens");
  check_tokens(tokens, V);
  return run_op(
      info, device, false, [=] { cpu::embedding_backward_cpu(dtable.as<float>(), dout.as<float>(), tokens.as<int32_t>(), N, C); },
      STEPRL_CUDA_ONLY([=] { cuda::embedding_backward_cuda(dtable.as<float>(), dout.as<float>(), tokens.as<int32_t>(), N, C); }), undefined);
}

}  // namespace

void register_embedding(Napi::Object exports) {
  STEPRL_EXPORT(exports, "embedding", Embedding);
  STEPRL_EXPORT(exports, "embeddingBackward", EmbeddingBackward);
}

STEPRL_REGISTER(register_embedding);

}  // namespace steprl
