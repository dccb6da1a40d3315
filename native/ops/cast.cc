// ops/cast.cc: N-API glue for cast, float32 <-> bfloat16 on the tensors' device (the rules are
// include/steprl/cast.h).
//   cast(out (bf16|f32 [n]), inp (f32|bf16 [n], the other dtype), n)   writes out
// TypeScript validates; this re-checks the element counts, that the dtypes are the two different
// floating ones, the device and that out and inp do not overlap. Typed arrays run
// native/cpu/cast.cc, DeviceBuffers (CUDA and simulator builds) cuda/cast.cu.
#include "../../include/steprl/cast.h"
#include "dispatch.h"
#include "memory_checks.h"
#include "ops.h"

namespace steprl {
namespace {

Napi::Value Cast(const Napi::CallbackInfo& info) {
  require_arity(info, 3, "cast");
  const int64_t n = int_arg(info, 2, "n", 0, kMaxDim);
  TensorArg inp = float_tensor_arg(info, 1, "inp", n);
  const DType to = inp.dtype == DType::float32 ? DType::bfloat16 : DType::float32;
  TensorArg out = tensor_arg(info, 0, "out", to, n);
  const Device device = common_device({&out, &inp});
  require_disjoint(out, "out", inp, "inp");
  CastArgs args{};
  args.out = out.data;
  args.inp = inp.data;
  args.kind = to == DType::bfloat16 ? CastKind::float32_to_bfloat16 : CastKind::bfloat16_to_float32;
  args.n = n;
  return run_op(
      info, device, false, [args] { cpu::cast_cpu(args); }, STEPRL_CUDA_ONLY([args] { cuda::cast_cuda(args); }), undefined);
}

STEPRL_REGISTER_FUNCTION("cast", Cast);

}  // namespace

}  // namespace steprl
