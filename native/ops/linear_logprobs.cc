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
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../cpu/linear_logprobs.h"
#include "../napi_util.h"
#include "memory_checks.h"
#include "ops.h"

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/linear_logprobs.h"
#include "../device_buffer.h"
#endif

namespace steprl {
namespace {

struct Common {
  TensorArg hidden, weight, targets, rows;
  int64_t M, N, C, V, chunk;
  float inv_temperature;
  Device device;
};

// Reads hidden, weight, targets, rows (indices 0..3) and the sizes starting at `sizes`.
Common read_common(const Napi::CallbackInfo& info, size_t sizes) {
  Common c;
  c.M = int_arg(info, sizes, "M", 0, kMaxDim);
  c.N = int_arg(info, sizes + 1, "N", 0, kMaxDim);
  c.C = int_arg(info, sizes + 2, "C", 0, kMaxDim);
  c.V = int_arg(info, sizes + 3, "V", 1, kMaxDim);
  c.chunk = int_arg(info, sizes + 4, "chunkSize", 1, kMaxDim);
  const double temperature = number_arg(info, sizes + 5, "temperature");
  if (!(temperature > 0.0) || !std::isfinite(temperature))
    throw ArgumentError("temperature", "Expected a finite number > 0 for temperature but received " +
                                           std::to_string(temperature));
  c.inv_temperature = static_cast<float>(1.0 / temperature);
  c.hidden = float_tensor_arg(info, 0, "hidden", elements({c.M, c.C}));
  c.weight = float_tensor_arg(info, 1, "weight", elements({c.V, c.C}));
  c.targets = tensor_arg(info, 2, "targets", DType::int32, c.N);
  c.rows = optional_tensor_arg(info, 3, "rows", DType::int32, c.N);
  if (!c.rows.present && c.M != c.N)
    throw ArgumentError("hidden", "Expected hidden of " + std::to_string(c.N) + " rows (one per target) but received " +
                                      std::to_string(c.M));
  return c;
}

void check_indices(const Common& c) {
  HostInts targets(c.targets);
  for (int64_t i = 0; i < c.N; ++i)
    if (targets.data()[i] < 0 || targets.data()[i] >= c.V)
      throw ArgumentError("targets", "Expected every target in [0, " + std::to_string(c.V) + ") but received " +
                                         std::to_string(targets.data()[i]) + " at index " + std::to_string(i));
  if (!c.rows.present) return;
  HostInts rows(c.rows);
  std::vector<bool> seen(static_cast<size_t>(c.M), false);
  for (int64_t i = 0; i < c.N; ++i) {
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

#if defined(STEPRL_WITH_CUDA)
cuda::LinearLogprobsArgs cuda_args(const Common& c) {
  return {c.hidden.data, c.weight.data, c.hidden.dtype == DType::bfloat16, c.weight.dtype == DType::bfloat16,
          c.targets.as<int32_t>(), c.rows.as<int32_t>(), c.N, c.C, c.V, c.chunk, c.inv_temperature};
}
#endif

cpu::LinearLogprobsArgs cpu_args(const Common& c) {
  return {c.hidden.data, c.weight.data, c.hidden.dtype == DType::bfloat16, c.weight.dtype == DType::bfloat16,
          c.targets.as<int32_t>(), c.rows.as<int32_t>(), c.N, c.C, c.V, c.chunk, c.inv_temperature};
}

Napi::Value LinearTokenLogprobs(const Napi::CallbackInfo& info) {
  require_arity(info, 12, "linearTokenLogprobs");
  Common c = read_common(info, 4);
  const bool want_entropy = bool_arg(info, 10, "entropy");
  const bool async = bool_arg(info, 11, "async");
  c.device = common_device({&c.hidden, &c.weight, &c.targets, &c.rows});
  check_indices(c);
#if defined(STEPRL_WITH_CUDA)
  if (c.device == Device::cuda) {
    DeviceTensor logprobs(DType::float32, c.N), logz(DType::float32, c.N), entropy;
    if (want_entropy) entropy = DeviceTensor(DType::float32, c.N);
    const cuda::LinearLogprobsArgs args = cuda_args(c);
    cuda::LinearLogprobsOutputs outs{logprobs.as<float>(), logz.as<float>(), want_entropy ? entropy.as<float>() : nullptr};
    const std::vector<TensorArg> inputs{c.hidden, c.weight, c.targets, c.rows};
    PreparedOp op;
    op.run = [args, outs, inputs] { cuda::linear_logprobs_forward_cuda(args, outs); };  // captures keep inputs alive
    op.result = [logprobs, logz, entropy, want_entropy](Napi::Env env) -> Napi::Value {
      Napi::Object out = Napi::Object::New(env);
      out.Set("logprobs", logprobs.to_js(env));
      out.Set("logZ", logz.to_js(env));
      if (want_entropy) out.Set("entropy", entropy.to_js(env));
      return out;
    };
    return finish(info, std::move(op), async);
  }
#endif
  auto logprobs = std::make_shared<HostBuffer>(DType::float32, c.N);
  auto logz = std::make_shared<HostBuffer>(DType::float32, c.N);
  auto entropy = want_entropy ? std::make_shared<HostBuffer>(DType::float32, c.N) : nullptr;
  const cpu::LinearLogprobsArgs args = cpu_args(c);
  const cpu::LinearLogprobsOutputs outs{logprobs->as<float>(), logz->as<float>(), entropy ? entropy->as<float>() : nullptr};
  PreparedOp op;
  op.run = [args, outs] { cpu::linear_logprobs_forward_cpu(args, outs); };
  op.result = [logprobs, logz, entropy](Napi::Env env) -> Napi::Value {
    Napi::Object out = Napi::Object::New(env);
    out.Set("logprobs", logprobs->release_to_js(env));
    out.Set("logZ", logz->release_to_js(env));
    if (entropy) out.Set("entropy", entropy->release_to_js(env));
    return out;
  };
  return finish(info, std::move(op), async);
}

Napi::Value LinearTokenLogprobsBackward(const Napi::CallbackInfo& info) {
  require_arity(info, 17, "linearTokenLogprobsBackward");
  Common c = read_common(info, 10);
  TensorArg logz = tensor_arg(info, 4, "logZ", DType::float32, c.N);
  TensorArg dlogprobs = tensor_arg(info, 5, "dlogprobs", DType::float32, c.N);
  TensorArg entropy = optional_tensor_arg(info, 6, "entropy", DType::float32, c.N);
  TensorArg dentropy = optional_tensor_arg(info, 7, "dentropy", DType::float32, c.N);
  TensorArg dhidden = optional_tensor_arg(info, 8, "dhidden", DType::float32, elements({c.M, c.C}));
  TensorArg dweight = optional_tensor_arg(info, 9, "dweight", DType::float32, elements({c.V, c.C}));
  const bool async = bool_arg(info, 16, "async");
  if (dentropy.present && !entropy.present)
    throw ArgumentError("entropy", "Expected the forward's entropy alongside dentropy but received none");
  c.device = common_device({&c.hidden, &c.weight, &c.targets, &c.rows, &logz, &dlogprobs, &entropy, &dentropy, &dhidden, &dweight});
  const std::pair<const TensorArg*, const char*> inputs[] = {
      {&c.hidden, "hidden"}, {&c.weight, "weight"}, {&c.targets, "targets"}, {&c.rows, "rows"},
      {&logz, "logZ"}, {&dlogprobs, "dlogprobs"}, {&entropy, "entropy"}, {&dentropy, "dentropy"}};
  for (const auto& i : inputs) {
    require_disjoint(dhidden, "dhidden", *i.first, i.second);
    require_disjoint(dweight, "dweight", *i.first, i.second);
  }
  require_disjoint(dhidden, "dhidden", dweight, "dweight");
  check_indices(c);
#if defined(STEPRL_WITH_CUDA)
  if (c.device == Device::cuda) {
    DeviceTensor owned;
    TensorArg dh = dhidden;
    if (!dhidden.present) {
      owned = DeviceTensor(DType::float32, elements({c.M, c.C}));
      dh = owned.arg();
    }
    const cuda::LinearLogprobsArgs args = cuda_args(c);
    cuda::LinearLogprobsGrads grads{logz.as<float>(), dlogprobs.as<float>(), entropy.as<float>(), dentropy.as<float>(),
                                    dh.as<float>(), dweight.as<float>()};
    const bool zero_first = !dhidden.present;
    const std::vector<TensorArg> keep{c.hidden, c.weight, c.targets, c.rows, logz, dlogprobs, entropy, dentropy, dh, dweight};
    PreparedOp op;
    op.run = [args, grads, keep, zero_first, M = c.M, C = c.C] {
      if (zero_first) cuda::fill_zero_cuda(grads.dhidden, elements({M, C}));
      cuda::linear_logprobs_backward_cuda(args, grads);
    };
    auto out_value = std::make_shared<Napi::Reference<Napi::Value>>();
    if (dhidden.present) *out_value = Napi::Persistent(info[8]);
    op.result = [owned, out_value](Napi::Env env) -> Napi::Value {
      if (owned.memory) return owned.to_js(env);
      return out_value->Value();
    };
    return finish(info, std::move(op), async);
  }
#endif
  std::shared_ptr<HostBuffer> owned;
  float* dh = dhidden.as<float>();
  if (!dhidden.present) {
    owned = std::make_shared<HostBuffer>(DType::float32, elements({c.M, c.C}));
    dh = owned->as<float>();
  }
  const cpu::LinearLogprobsArgs args = cpu_args(c);
  const cpu::LinearLogprobsGrads grads{logz.as<float>(), dlogprobs.as<float>(), entropy.as<float>(), dentropy.as<float>(),
                                       dh, dweight.as<float>()};
  const int64_t dh_elements = owned ? c.M * c.C : 0;
  PreparedOp op;
  op.run = [args, grads, dh_elements] {
    std::fill(grads.dhidden, grads.dhidden + dh_elements, 0.0f);
    cpu::linear_logprobs_backward_cpu(args, grads);
  };
  auto out_value = std::make_shared<Napi::Reference<Napi::Value>>();
  if (dhidden.present) *out_value = Napi::Persistent(info[8]);
  op.result = [owned, out_value](Napi::Env env) -> Napi::Value {
    if (owned) return owned->release_to_js(env);
    return out_value->Value();
  };
  return finish(info, std::move(op), async);
}

}  // namespace

void register_linear_logprobs(Napi::Object exports) {
  STEPRL_EXPORT(exports, "linearTokenLogprobs", LinearTokenLogprobs);
  STEPRL_EXPORT(exports, "linearTokenLogprobsBackward", LinearTokenLogprobsBackward);
}

}  // namespace steprl
