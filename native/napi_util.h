// napi_util.h: the one way native entry points check arguments and report errors.
//
// TypeScript validates user input and explains it; the checks here only keep memory safe (arity,
// typed-array kind, element count against the sizes the op was given). Every export is wrapped by
// `entry<F>`, which turns C++ exceptions into JS errors carrying `code` and `argument`, so no C++
// exception can reach N-API and terminate the process. Heavy ops run either inline or in an
// AsyncWorker (`finish`), whose Execute() touches no N-API and whose failure rejects the promise.
#pragma once

#include <napi.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../include/steprl/errors.h"  // ArgumentError, DeviceError
#include "tensor.h"

namespace steprl {

Napi::Error to_js_error(Napi::Env env, const std::exception& e);

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value entry(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw to_js_error(info.Env(), e);
  } catch (...) {
    throw Napi::Error::New(info.Env(), "steprl: unknown native exception");
  }
}

#define STEPRL_EXPORT(exports, name, fn) \
  (exports).Set(name, Napi::Function::New((exports).Env(), ::steprl::entry<fn>, name))

// ---- argument unpacking -------------------------------------------------------------------
void require_arity(const Napi::CallbackInfo& info, size_t n, const char* op);
// A tensor argument of `dtype` holding exactly `numel` elements.
TensorArg tensor_arg(const Napi::CallbackInfo& info, size_t index, const char* name, DType dtype, int64_t numel);
// Same, but `undefined`/`null` gives an empty TensorArg (data == nullptr).
TensorArg optional_tensor_arg(const Napi::CallbackInfo& info, size_t index, const char* name, DType dtype,
                              int64_t numel);
// A float32 or bfloat16 tensor (e.g. logits).
TensorArg float_tensor_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t numel);
// A tensor of any of `dtypes` (e.g. a float32 or uint8 mask); TensorArg::dtype says which.
TensorArg tensor_arg_of(const Napi::CallbackInfo& info, size_t index, const char* name, std::initializer_list<DType> dtypes,
                        int64_t numel);
int64_t int_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max);
double number_arg(const Napi::CallbackInfo& info, size_t index, const char* name);
bool bool_arg(const Napi::CallbackInfo& info, size_t index, const char* name);
// Checks that every tensor lives on the same device; returns it.
Device common_device(std::initializer_list<const TensorArg*> tensors);

// ---- running an op sync or async ----------------------------------------------------------
// An op prepared on the main thread: `run` does the work (no N-API inside), `result` builds
// the JS value afterwards. `keep` holds the JS inputs alive while an async run is in flight.
struct PreparedOp {
  std::function<void()> run;
  std::function<Napi::Value(Napi::Env)> result;
};

// Runs the op now (returns its result) or on the libuv pool (returns a Promise).
Napi::Value finish(const Napi::CallbackInfo& info, PreparedOp op, bool async);

}  // namespace steprl
