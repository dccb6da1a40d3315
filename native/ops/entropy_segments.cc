// ops/entropy_segments.cc: N-API glue for entropySegments (ALGORITHMS.md §5.2).
//   entropySegments(entropy [R,T] f32, mask [R,T] f32|u8, R, T, maxBranches, minGap, compat)
//     -> segment ids int32 [R,T] (−1 on padding)
// Typed arrays run native/cpu/entropy_segments.cc, DeviceBuffers cuda/entropy_segments.cu, which
// also checks the mask and the valid tokens' entropies (TypeScript checks them on the cpu).
#include "../../include/steprl/step_offsets.h"  // kMaxSteps
#include "../cpu/entropy_segments.h"
#include "args.h"
#include "dispatch.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/entropy_segments.h"
#endif

namespace steprl {
namespace {

Napi::Value EntropySegments(const Napi::CallbackInfo& info) {
  require_arity(info, 7, "entropySegments");
  const RowsTokens shape = rows_tokens_arg(info, 2, 3, kMaxDim, kMaxSteps - 1);  // ids are int32
  TensorArg entropy = tensor_arg(info, 0, "entropy", DType::float32, shape.n);
  TensorArg mask = mask_arg(info, 1, shape.n);
  const int64_t max_branches = int_arg(info, 4, "maxBranches", 1, kMaxBranches);
  const int64_t min_gap = int_arg(info, 5, "minGap", 1, kMaxSteps - 1);
  const bool compat = bool_arg(info, 6, "compat");
  const Device device = common_device({&entropy, &mask});
  Output segments(device, DType::int32, shape.n);
  const EntropySegmentsArgs args{segments.as<int32_t>(), entropy.as<float>(), mask.data, mask.dtype == DType::uint8, shape.T,
                                 max_branches, min_gap, compat, shape.R};
  return run_launchers(info, device, false, args, cpu::entropy_segments_cpu,
                       STEPRL_CUDA_ONLY(cuda::entropy_segments_cuda), segments.as_result());
}

STEPRL_REGISTER_FUNCTION("entropySegments", EntropySegments);

}  // namespace

}  // namespace steprl
