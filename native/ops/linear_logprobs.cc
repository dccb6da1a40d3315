// ops/linear_logprobs.cc: N-API glue for linearTokenLogprobs / linearTokenLogprobsBackward, the
// fused output projection + token log-probs (cpu/linear_logprobs.h; cuda/linear_logprobs.h).
//   linearTokenLogprobs(hidden [M,C] f32|bf16, weight [V,C] f32|bf16, targets [N] i32, rows [N] i32|null,
//                       M, N, C, V, chunk, temperature, entropy: bool, async)
//     -> { logprobs, logZ, entropy? }                           (each f32 [N])
//   linearTokenLogprobsBackward(hidden, weight, targets, rows|null, logZ [N], dlogprobs [N],
//                               entropy [N]|null, dentropy [N]|null, dhidden [M,C]|null,
//                               dweight [V,C]|null, M, N, C, V, chunk, temperature, async)
//     -> dhidden (the given one, accumulated into; else a new zero-started [M,C])
// Without rows, token i is row i of hidden (M == N). Targets and rows are range-checked here (rows
// must also be distinct: the backward adds each token's gradient into its row).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "../cpu/linear_logprobs.h"
#include "../../include/steprl/token_logprobs.h"  // check_targets
#include "args.h"
#include "dispatch.h"
#include "logprobs_glue.h"
#include "memory_checks.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/linear_logprobs.h"
#endif

namespace steprl {
namespace {

struct Common {
  TensorArg hidden, weight, targets, rows;
  int64_t M;
  LinearLogprobsArgs args;
};

// Reads hidden, weight, targets, rows (indices 0..3) and the sizes starting at `sizes`.
Common read_common(const Napi::CallbackInfo& info, size_t sizes) {
  Common c{};
  LinearLogprobsArgs& a = c.args;
  c.M = int_arg(info, sizes, "M", 0, kMaxDim);
  a.N = int_arg(info, sizes + 1, "N", 0, kMaxDim);
  a.C = int_arg(info, sizes + 2, "C", 0, kMaxDim);
  a.V = int_arg(info, sizes + 3, "V", 1, kMaxDim);
  a.chunk = int_arg(info, sizes + 4, "chunkSize", 1, kMaxDim);
  a.inv_temperature = inverse_temperature_arg(info, sizes + 5);
  c.hidden = float_tensor_arg(info, 0, "hidden", elements({c.M, a.C}));
  c.weight = float_tensor_arg(info, 1, "weight", elements({a.V, a.C}));
  c.targets = tensor_arg(info, 2, "targets", DType::int32, a.N);
  c.rows = optional_tensor_arg(info, 3, "rows", DType::int32, a.N);
  if (!c.rows.present && c.M != a.N)
    throw ArgumentError("hidden", "Expected hidden of " + std::to_string(a.N) + " rows (one per target) but received " +
                                      std::to_string(c.M));
  a.hidden = c.hidden.data;
  a.weight = c.weight.data;
  a.hidden_bf16 = c.hidden.dtype == DType::bfloat16;
  a.weight_bf16 = c.weight.dtype == DType::bfloat16;
  a.targets = c.targets.as<int32_t>();
  a.rows = c.rows.as<int32_t>();
  return c;
}

void check_indices(const Common& c) {
  HostInts targets(c.targets);
  check_targets(targets.data(), c.args.N, c.args.V);
  if (!c.rows.present) return;
  HostInts rows(c.rows);
  std::vector<bool> seen(static_cast<size_t>(c.M), false);
  for (int64_t i = 0; i < c.args.N; ++i) {
    const int32_t r = rows.data()[i];
    if (r < 0 || r >= c.M)
      throw ArgumentError("rows", "Expected every row in [0, " + std::to_string(c.M) + ") but received " +
                                      std::to_string(r) + " at index " + std::to_string(i));
    if (seen[static_cast<size_t>(r)])
      throw ArgumentError("rows", "Expected distinct rows but received row " + std::to_string(r) + " twice (again at index " +
                                      std::to_string(i) + ")");
    seen[static_cast<size_t>(r)] = true;
  }
}

Napi::Value LinearTokenLogprobs(const Napi::CallbackInfo& info) {
  require_arity(info, 12, "linearTokenLogprobs");
  const Common c = read_common(info, 4);
  const bool want_entropy = bool_arg(info, 10, "entropy");
  const bool async = bool_arg(info, 11, "async");
  const Device device = common_device({&c.hidden, &c.weight, &c.targets, &c.rows});
  check_indices(c);
  const LogprobOutputs outs(device, c.args.N, want_entropy);
  const LinearLogprobsOutputs out{outs.logprobs.as<float>(), outs.logz.as<float>(), outs.entropy.as<float>()};
  const LinearLogprobsArgs args = c.args;
  return run_op(
      info, device, async, [args, out] { cpu::linear_logprobs_forward_cpu(args, out); },
      STEPRL_CUDA_ONLY([args, out] { cuda::linear_logprobs_forward_cuda(args, out); }),
      [outs](Napi::Env env) { return outs.to_js(env); }, {c.hidden, c.weight, c.targets, c.rows});
}

Napi::Value LinearTokenLogprobsBackward(const Napi::CallbackInfo& info) {
  require_arity(info, 17, "linearTokenLogprobsBackward");
  const Common c = read_common(info, 10);
  const int64_t N = c.args.N, C = c.args.C, M = c.M;
  TensorArg logz = tensor_arg(info, 4, "logZ", DType::float32, N);
  TensorArg dlogprobs = tensor_arg(info, 5, "dlogprobs", DType::float32, N);
  TensorArg entropy = optional_tensor_arg(info, 6, "entropy", DType::float32, N);
  TensorArg dentropy = optional_tensor_arg(info, 7, "dentropy", DType::float32, N);
  TensorArg dhidden = optional_tensor_arg(info, 8, "dhidden", DType::float32, elements({M, C}));
  TensorArg dweight = optional_tensor_arg(info, 9, "dweight", DType::float32, elements({c.args.V, C}));
  const bool async = bool_arg(info, 16, "async");
  if (dentropy.present && !entropy.present)
    throw ArgumentError("entropy", "Expected the forward's entropy alongside dentropy but received none");
  const Device device =
      common_device({&c.hidden, &c.weight, &c.targets, &c.rows, &logz, &dlogprobs, &entropy, &dentropy, &dhidden, &dweight});
  const std::pair<const TensorArg*, const char*> inputs[] = {
      {&c.hidden, "hidden"}, {&c.weight, "weight"}, {&c.targets, "targets"}, {&c.rows, "rows"},
      {&logz, "logZ"}, {&dlogprobs, "dlogprobs"}, {&entropy, "entropy"}, {&dentropy, "dentropy"}};
  for (const auto& i : inputs) {
    require_disjoint(dhidden, "dhidden", *i.first, i.second);
    require_disjoint(dweight, "dweight", *i.first, i.second);
  }
  require_disjoint(dhidden, "dhidden", dweight, "dweight");
  check_indices(c);
  const Output dh = Output::given_or_new(info, 8, dhidden, device, DType::float32, elements({M, C}));
  const LinearLogprobsGrads grads{logz.as<float>(), dlogprobs.as<float>(), entropy.as<float>(), dentropy.as<float>(),
                                  dh.as<float>(), dweight.as<float>()};
  const LinearLogprobsArgs args = c.args;
  const int64_t zero_first = dh.fresh() ? M * C : 0;  // a new dhidden starts at 0, a given one is accumulated into
  return run_op(
      info, device, async,
      [args, grads, zero_first] {
        std::fill(grads.dhidden, grads.dhidden + zero_first, 0.0f);
        cpu::linear_logprobs_backward_cpu(args, grads);
      },
      STEPRL_CUDA_ONLY([args, grads, zero_first] {
        if (zero_first > 0) cuda::fill_zero_cuda(grads.dhidden, zero_first);
        cuda::linear_logprobs_backward_cuda(args, grads);
      }),
      [dh](Napi::Env env) { return dh.to_js(env); },
      {c.hidden, c.weight, c.targets, c.rows, logz, dlogprobs, entropy, dentropy, dhidden, dweight});
}

}  // namespace

void register_linear_logprobs(Napi::Object exports) {
  STEPRL_EXPORT(exports, "linearTokenLogprobs", LinearTokenLogprobs);
  STEPRL_EXPORT(exports, "linearTokenLogprobsBackward", LinearTokenLogprobsBackward);
}

STEPRL_REGISTER(register_linear_logprobs);

}  // namespace steprl
