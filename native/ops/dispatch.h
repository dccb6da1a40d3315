// dispatch.h: the one way a family's glue picks its backend and hands its results to JS.
//   Output      an op's output on the device of its inputs: host memory (a typed array for JS) on
//               the cpu, device memory (a DeviceBuffer) on cuda;
//   run_op      runs the cpu or the cuda launcher (the same include/steprl/<family>.h arguments),
//               inline or on the libuv pool (`finish`), then builds the JS result once;
//   run_launchers  the same for the usual pair cpu::<family>_cpu(args, R) / cuda::<family>_cuda(args);
//   object      a JS object from name/value pairs (the result objects of every family).
// STEPRL_CUDA_ONLY(x) is x in CUDA and simulator builds and nullptr elsewhere, so a glue file
// names its cuda launcher without an #if of its own.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <utility>
#include <vector>

#include "../napi_util.h"

#if defined(STEPRL_WITH_CUDA)
#include "../device_buffer.h"
#define STEPRL_CUDA_ONLY(...) __VA_ARGS__
#else
#define STEPRL_CUDA_ONLY(...) nullptr
#endif

namespace steprl {

class Output {
 public:
  Output() = default;  // none: as() gives nullptr (an output the caller did not ask for)
  Output(Device device, DType dtype, int64_t numel) {
#if defined(STEPRL_WITH_CUDA)
    if (device == Device::cuda) {
      device_ = std::make_shared<DeviceTensor>(dtype, numel);
      return;
    }
#endif
    (void)device;
    host_ = std::make_shared<HostBuffer>(dtype, numel);
  }
  // The caller's tensor at info[index] when it was given (`given` present): the op writes into it
  // and returns that same JS value; else a new output.
  static Output given_or_new(const Napi::CallbackInfo& info, size_t index, const TensorArg& given, Device device,
                             DType dtype, int64_t numel) {
    if (!given.present) return Output(device, dtype, numel);
    Output out;
    out.given_data_ = given.data;
    out.given_ = std::make_shared<Napi::Reference<Napi::Value>>(Napi::Persistent(info[index]));
    return out;
  }
  bool fresh() const { return given_ == nullptr; }  // made here, not the caller's
  // A run_op result that returns this output alone.
  std::function<Napi::Value(Napi::Env)> as_result() const {
    return [self = *this](Napi::Env env) { return self.to_js(env); };
  }
  template <typename T> T* as() const {
    if (given_) return static_cast<T*>(given_data_);
#if defined(STEPRL_WITH_CUDA)
    if (device_) return device_->as<T>();
#endif
    return host_ ? host_->as<T>() : nullptr;
  }
  // Hands the memory to JS: a typed array (once) or a DeviceBuffer sharing it; a given output is
  // returned as it came.
  Napi::Value to_js(Napi::Env env) const {
    if (given_) return given_->Value();
#if defined(STEPRL_WITH_CUDA)
    if (device_) return device_->to_js(env);
#endif
    return host_->release_to_js(env);
  }

 private:
  void* given_data_ = nullptr;
  std::shared_ptr<Napi::Reference<Napi::Value>> given_;
  std::shared_ptr<HostBuffer> host_;
#if defined(STEPRL_WITH_CUDA)
  std::shared_ptr<DeviceTensor> device_;
#endif
};

inline Napi::Object object(Napi::Env env, std::initializer_list<std::pair<const char*, Napi::Value>> fields) {
  Napi::Object out = Napi::Object::New(env);
  for (const auto& field : fields) out.Set(field.first, field.second);
  return out;
}

// The result of an op that writes into its arguments.
inline Napi::Value undefined(Napi::Env env) { return env.Undefined(); }

// A run_op result that returns { name: output, ... }.
inline std::function<Napi::Value(Napi::Env)> outputs_result(std::vector<std::pair<const char*, Output>> outputs) {
  return [outputs = std::move(outputs)](Napi::Env env) -> Napi::Value {
    Napi::Object out = Napi::Object::New(env);
    for (const auto& [name, output] : outputs) out.Set(name, output.to_js(env));
    return out;
  };
}

// Runs `cpu`, or `cuda` when `device` is cuda (a CUDA or simulator build), now or asynchronously,
// and returns `result(env)` afterwards (or a Promise of it). `keep`: tensors whose device memory
// must outlive an async run (the JS arguments themselves are kept alive by `finish`).
inline Napi::Value run_op(const Napi::CallbackInfo& info, Device device, bool async, std::function<void()> cpu,
                          std::function<void()> cuda, std::function<Napi::Value(Napi::Env)> result,
                          std::vector<TensorArg> keep = {}) {
  PreparedOp op;
#if defined(STEPRL_WITH_CUDA)
  if (device == Device::cuda) {
    op.run = [cuda = std::move(cuda), keep = std::move(keep)] { cuda(); };
  } else {
    op.run = std::move(cpu);
  }
#else
  (void)device;
  (void)cuda;
  (void)keep;
  op.run = std::move(cpu);
#endif
  op.result = std::move(result);
  return finish(info, std::move(op), async);
}

// The same for an op whose launchers return a value of type Result (e.g. PolicyLossResult):
// `result(env, value)` builds the JS value from it.
template <typename Result>
Napi::Value run_op(const Napi::CallbackInfo& info, Device device, bool async, std::function<Result()> cpu,
                   std::function<Result()> cuda, std::function<Napi::Value(Napi::Env, const Result&)> result,
                   std::vector<TensorArg> keep = {}) {
  auto value = std::make_shared<Result>();
  std::function<void()> run_cuda = nullptr;
  if (cuda) run_cuda = [cuda = std::move(cuda), value] { *value = cuda(); };
  return run_op(
      info, device, async, [cpu = std::move(cpu), value] { *value = cpu(); }, std::move(run_cuda),
      [result = std::move(result), value](Napi::Env env) { return result(env, *value); }, std::move(keep));
}

template <typename T> struct NonDeduced {
  using type = T;
};

// The usual family: one include/steprl/<family>.h arguments struct with its row count R, and the
// launchers cpu::<family>_cpu(args, args.R) and cuda::<family>_cuda(args) (nullptr without CUDA).
template <typename Args>
Napi::Value run_launchers(const Napi::CallbackInfo& info, Device device, bool async, const Args& args,
                          void (*cpu)(const Args&, int64_t), void (*cuda)(const typename NonDeduced<Args>::type&),
                          std::function<Napi::Value(Napi::Env)> result, std::vector<TensorArg> keep = {}) {
  std::function<void()> run_cuda = nullptr;
  if (cuda) run_cuda = [args, cuda] { cuda(args); };
  return run_op(
      info, device, async, [args, cpu] { cpu(args, args.R); }, std::move(run_cuda), std::move(result), std::move(keep));
}

}  // namespace steprl
