// ops/entropy_segments.cc: N-API glue for entropySegments (ALGORITHMS.md §5.2).
//   entropySegments(entropy [R,T] f32, mask [R,T] f32|u8, R, T, maxBranches, minGap, compat)
//     -> segment ids int32 [R,T] (−1 on padding)
// Typed arrays run native/cpu/entropy_segments.cc, DeviceBuffers cuda/entropy_segments.cu, which
// also checks the mask and the valid tokens' entropies (TypeScript checks them on the cpu).
#include "../cpu/entropy_segments.h"
#include "advantage_glue.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/entropy_segments.h"
#include "../device_buffer.h"
#endif

namespace steprl {
namespace {

using namespace advantage_glue;

Napi::Value EntropySegments(const Napi::CallbackInfo& info) {
  require_arity(info, 7, "entropySegments");
  const int64_t R = int_arg(info, 2, "rows", 0, kMaxDim);
  const int64_t T = int_arg(info, 3, "tokens", 0, kMaxSteps - 1);  // ids are int32
  if (T != 0 && R > kMaxDim / T) throw ArgumentError("tokens", "Expected R*T below 2^40 but received larger sizes");
  const int64_t n = R * T;
  TensorArg entropy = tensor_arg(info, 0, "entropy", DType::float32, n);
  TensorArg mask = tensor_arg_of(info, 1, "mask", {DType::float32, DType::uint8}, n);
  const int64_t max_branches = int_arg(info, 4, "maxBranches", 1, cpu::kMaxBranches);
  const int64_t min_gap = int_arg(info, 5, "minGap", 1, kMaxSteps - 1);
  const bool compat = bool_arg(info, 6, "compat");
  const Device device = common_device({&entropy, &mask});
#if defined(STEPRL_WITH_CUDA)
  if (device == Device::cuda) {
    DeviceTensor segments(DType::int32, n);
    cuda::entropy_segments_cuda({segments.as<int32_t>(), entropy.as<float>(), mask.data, mask.dtype == DType::uint8, R, T,
                                 max_branches, min_gap, compat});
    return segments.to_js(info.Env());
  }
#else
  (void)device;
#endif
  auto segments = std::make_shared<HostBuffer>(DType::int32, n);
  cpu::EntropySegmentsArgs args{segments->as<int32_t>(), entropy.as<float>(), mask.data, mask.dtype == DType::uint8, T,
                                max_branches, min_gap, compat};
  PreparedOp op;
  op.run = [args, R] { cpu::entropy_segments_cpu(args, R); };
  op.result = [segments](Napi::Env env) -> Napi::Value { return segments->release_to_js(env); };
  return finish(info, std::move(op), false);
}

}  // namespace

void register_entropy_segments(Napi::Object exports) { STEPRL_EXPORT(exports, "entropySegments", EntropySegments); }

}  // namespace steprl
