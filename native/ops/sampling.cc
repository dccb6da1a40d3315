// ops/sampling.cc: N-API glue for next-token sampling (cpu/sampling.h).
//   sample(logits [B,V] f32, B, V, temperature, topK, topP, seed, counter) -> tokens int32 [B]
// Typed arrays run the CPU code (tokens: an Int32Array), DeviceBuffers (CUDA and simulator builds)
// cuda/sampling.cu (tokens: a DeviceBuffer; the call waits for the kernel to report bad rows).
#include <cmath>
#include <string>

#include "../cpu/sampling.h"
#include "dispatch.h"
#include "memory_checks.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/sampling.h"
#endif

namespace steprl {
namespace {

Napi::Value Sample(const Napi::CallbackInfo& info) {
  require_arity(info, 8, "sample");
  const int64_t B = int_arg(info, 1, "B", 0, kMaxDim), V = int_arg(info, 2, "V", 1, int64_t{1} << 31);
  TensorArg logits = tensor_arg(info, 0, "logits", DType::float32, elements({B, V}));
  const double temperature = number_arg(info, 3, "temperature");
  if (!(temperature >= 0.0) || !std::isfinite(temperature))
    throw ArgumentError("temperature", "Expected a finite number >= 0 for temperature but received " + std::to_string(temperature));
  const int64_t top_k = int_arg(info, 4, "topK", 0, int64_t{1} << 53);
  const double top_p = number_arg(info, 5, "topP");
  if (!(top_p > 0.0 && top_p <= 1.0))
    throw ArgumentError("topP", "Expected a number > 0 and <= 1 for topP but received " + std::to_string(top_p));
  const auto seed = static_cast<uint32_t>(int_arg(info, 6, "seed", 0, 0xffffffffLL));
  const auto counter = static_cast<uint64_t>(int_arg(info, 7, "counter", 0, int64_t{1} << 53));
  const Device device = common_device({&logits});
  const double scale = 1.4426950408889634 / temperature;  // log2(e) / temperature, as the CPU
  const bool greedy = temperature == 0.0 || !std::isfinite(scale) || !std::isfinite(static_cast<float>(scale));
  const Output tokens(device, DType::int32, B);
  const SampleArgs args{tokens.as<int32_t>(), logits.as<float>(), V, temperature, top_k, top_p, seed, counter,
                        B, greedy, greedy ? 0.0 : scale};
  return run_op<int64_t>(
      info, device, false, [args] { return cpu::sample_cpu(args, args.B); },
      STEPRL_CUDA_ONLY([args] { return cuda::sample_cuda(args); }),
      [tokens](Napi::Env env, const int64_t& bad) -> Napi::Value {
        if (bad >= 0)
          throw ArgumentError("logits", "Expected finite logits (-inf allowed, at least one finite per row) in every row of logits "
                                        "but received row " + std::to_string(bad) + " with NaN, +inf or no finite value");
        return tokens.to_js(env);
      });
}

STEPRL_REGISTER_FUNCTION("sample", Sample);

}  // namespace

}  // namespace steprl
