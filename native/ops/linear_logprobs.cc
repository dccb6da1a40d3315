// ops/linear_logprobs.cc: N-API glue for linearTokenLogprobs / linearTokenLogprobsBackward, the
// fused output projection + token log-probs (cpu/linear_logprobs.h; cuda/linear_logprobs.h).
//   linearTokenLogprobs(hidden [M,C] f32|bf16, weight [V,C] f32|bf16, targets [N] i32, rows [N] i32|null,
//                       M, N, C, V, chunk, temperature, entropy: bool, async)
//     -> { logprobs, logZ, entropy? }                           (each f32 [N])
//   linearTokenLogprobsBackward(hidden, weight, targets, rows|null, logZ [N], dlogprobs [N],
//                               entropy [N]|null, dentropy [N]|null, dhidden [M,C]|null,
//                               dweight [V,C]|null, M, N, C, V, chunk, temperature, async)
//     -> dhidden (the given one, accumulated into; else a new zero-started [M,C])
//   linearPolicyLoss(hidden, weight, targets, rows|null, oldLogprobs, refLogprobs|null, advantages,
//                    mask (f32|u8), dhidden [M,C]|null, dweight [V,C]|null, M, N, C, V, chunk, temperature,
//                    R, T, clipLow, clipHigh, dualClip|null, klCoef, klEstimator, aggregation,
//                    tokenCount|null, rowCount|null, maxLength|null, lossScale, mode: 'clip'|'cispo',
//                    blockRows, async)
//     -> { loss, pgLoss, klLoss, clipFraction, kl, approxKl, logprobs, logZ, dlogprobs (f32 [N] each),
//          dhidden }                          (cpu/linear_policy_loss.h; cuda/linear_logprobs.h)
// Without rows, token i is row i of hidden (M == N). Targets and rows are range-checked here (rows
// must also be distinct: the backward adds each token's gradient into its row).
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "../cpu/linear_logprobs.h"
#include "../cpu/linear_policy_loss.h"
#include "../cpu/policy_loss.h"
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

// The gradients the backward ops write (dhidden, dweight; either may be absent) share no memory
// with any input nor with each other: a typed error naming the two arguments otherwise.
void require_grads_disjoint(const TensorArg& dhidden, const TensorArg& dweight,
                            std::initializer_list<std::pair<const TensorArg*, const char*>> inputs) {
  for (const auto& i : inputs) {
    require_disjoint(dhidden, "dhidden", *i.first, i.second);
    require_disjoint(dweight, "dweight", *i.first, i.second);
  }
  require_disjoint(dhidden, "dhidden", dweight, "dweight");
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
  require_grads_disjoint(dhidden, dweight,
                         {{&c.hidden, "hidden"}, {&c.weight, "weight"}, {&c.targets, "targets"}, {&c.rows, "rows"},
                          {&logz, "logZ"}, {&dlogprobs, "dlogprobs"}, {&entropy, "entropy"}, {&dentropy, "dentropy"}});
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


Napi::Value LinearPolicyLoss(const Napi::CallbackInfo& info) {
  require_arity(info, 31, "linearPolicyLoss");
  const Common c = read_common(info, 10);
  const int64_t N = c.args.N, C = c.args.C, M = c.M;
  const RowsTokens rt = rows_tokens_arg(info, 16, 17);
  if (rt.n != N)
    throw ArgumentError("oldLogprobs", "Expected [R, T] per-token inputs with R*T = " + std::to_string(N) +
                                           " (one per target) but received R = " + std::to_string(rt.R) +
                                           ", T = " + std::to_string(rt.T));
  TensorArg old = tensor_arg(info, 4, "oldLogprobs", DType::float32, N);
  TensorArg ref = optional_tensor_arg(info, 5, "refLogprobs", DType::float32, N);
  TensorArg advantages = tensor_arg(info, 6, "advantages", DType::float32, N);
  TensorArg mask = mask_arg(info, 7, N);
  TensorArg dhidden = optional_tensor_arg(info, 8, "dhidden", DType::float32, elements({M, C}));
  TensorArg dweight = optional_tensor_arg(info, 9, "dweight", DType::float32, elements({c.args.V, C}));
  const Device device = common_device(
      {&c.hidden, &c.weight, &c.targets, &c.rows, &old, &ref, &advantages, &mask, &dhidden, &dweight});

  PolicyLossArgs loss{};
  loss.old_logprobs = old.as<float>();
  loss.ref_logprobs = ref.present ? ref.as<float>() : nullptr;
  loss.advantages = advantages.as<float>();
  loss.mask = mask.data;
  loss.mask_u8 = mask.dtype == DType::uint8;
  loss.R = rt.R;
  loss.T = rt.T;
  loss.clip_low = static_cast<float>(number_arg(info, 18, "clipLow"));
  loss.clip_high = static_cast<float>(number_arg(info, 19, "clipHigh"));
  loss.dual_clip = static_cast<float>(optional_positive_arg(info, 20, "dualClip", INFINITY));
  loss.kl_coef = static_cast<float>(number_arg(info, 21, "klCoef"));
  if (loss.kl_coef != 0.0f && !ref.present)
    throw ArgumentError("refLogprobs", "Expected refLogprobs when klCoef is not 0 but received none");
  loss.kl_estimator = enum_arg(info, 22, "klEstimator", cpu::kl_estimator_from_name, "k1, k2, k3, k3+, abs");
  loss.aggregation = enum_arg(info, 23, "aggregation", cpu::loss_aggregation_from_name,
                              "token-mean, seq-mean-token-mean, seq-mean-token-sum, seq-mean-token-sum-norm");
  loss.token_count = optional_positive_arg(info, 24, "tokenCount", 0.0);
  loss.row_count = optional_positive_arg(info, 25, "rowCount", static_cast<double>(rt.R));
  loss.max_length = optional_positive_arg(info, 26, "maxLength", static_cast<double>(rt.T));
  loss.loss_scale = number_arg(info, 27, "lossScale");
  loss.mode = enum_arg(info, 28, "mode", cpu::policy_loss_mode_from_name, "clip, cispo");
  if (loss.mode != PolicyLossMode::clip && loss.mode != PolicyLossMode::cispo)
    throw ArgumentError("mode", "Expected a loss mode whose per-token gradient is element-wise (clip, cispo) but received " +
                                    string_arg(info, 28) + " (its gradient needs whole sequences: use policyLoss)");
  if (loss.mode != PolicyLossMode::clip && std::isfinite(loss.dual_clip))
    throw ArgumentError("dualClip", "Expected no dualClip with mode " + string_arg(info, 28) + " but received " +
                                        std::to_string(loss.dual_clip));
  const int64_t block_rows = int_arg(info, 29, "blockRows", 1, kMaxDim);
  const bool async = bool_arg(info, 30, "async");

  require_grads_disjoint(dhidden, dweight,
                         {{&c.hidden, "hidden"}, {&c.weight, "weight"}, {&c.targets, "targets"}, {&c.rows, "rows"},
                          {&old, "oldLogprobs"}, {&ref, "refLogprobs"}, {&advantages, "advantages"}, {&mask, "mask"}});
  check_indices(c);
  const Output dh = Output::given_or_new(info, 8, dhidden, device, DType::float32, elements({M, C}));
  const Output logprobs(device, DType::float32, N), logz(device, DType::float32, N), dlogprobs(device, DType::float32, N);
  const LinearPolicyLossOutputs out{logprobs.as<float>(), logz.as<float>(), dlogprobs.as<float>(), dh.as<float>(),
                                         dweight.as<float>()};
  const LinearLogprobsArgs args = c.args;
  const int64_t zero_first = dh.fresh() ? M * C : 0;  // a new dhidden starts at 0, a given one is accumulated into
  return run_op<PolicyLossResult>(
      info, device, async,
      [args, loss, block_rows, out, zero_first] {
        std::fill(out.dhidden, out.dhidden + zero_first, 0.0f);
        return cpu::linear_policy_loss_cpu(args, loss, block_rows, out);
      },
      STEPRL_CUDA_ONLY([args, loss, block_rows, out, zero_first] {
        if (zero_first > 0) cuda::fill_zero_cuda(out.dhidden, zero_first);
        return cuda::linear_policy_loss_cuda(args, loss, block_rows, out);
      }),
      [logprobs, logz, dlogprobs, dh](Napi::Env env, const PolicyLossResult& r) -> Napi::Value {
        return object(env, {{"loss", Napi::Number::New(env, r.loss)},
                            {"pgLoss", Napi::Number::New(env, r.pg_loss)},
                            {"klLoss", Napi::Number::New(env, r.kl_loss)},
                            {"clipFraction", Napi::Number::New(env, r.clip_fraction)},
                            {"kl", Napi::Number::New(env, r.kl)},
                            {"approxKl", Napi::Number::New(env, r.approx_kl)},
                            {"logprobs", logprobs.to_js(env)},
                            {"logZ", logz.to_js(env)},
                            {"dlogprobs", dlogprobs.to_js(env)},
                            {"dhidden", dh.to_js(env)}});
      },
      {c.hidden, c.weight, c.targets, c.rows, old, ref, advantages, mask, dhidden, dweight});
}

}  // namespace

void register_linear_logprobs(Napi::Object exports) {
  STEPRL_EXPORT(exports, "linearTokenLogprobs", LinearTokenLogprobs);
  STEPRL_EXPORT(exports, "linearTokenLogprobsBackward", LinearTokenLogprobsBackward);
  STEPRL_EXPORT(exports, "linearPolicyLoss", LinearPolicyLoss);
}

STEPRL_REGISTER(register_linear_logprobs);

}  // namespace steprl
