// napi_util.cc: argument checks, C++ -> JS error conversion, and the AsyncWorker behind `finish`.
#include "napi_util.h"

#include <cmath>
#include <new>
#include <string>

#if defined(STEPRL_WITH_CUDA)
#include "device_buffer.h"
#endif

namespace steprl {
namespace {

void set_code(Napi::Error& error, const char* code) { error.Set("code", Napi::String::New(error.Env(), code)); }

std::string describe(const Napi::Value& value) {
  if (value.IsUndefined()) return "undefined";
  if (value.IsNull()) return "null";
  if (value.IsTypedArray()) {
    Napi::TypedArray array = value.As<Napi::TypedArray>();
    const char* kind = "TypedArray";
    switch (array.TypedArrayType()) {
      case napi_float32_array: kind = "Float32Array"; break;
      case napi_float64_array: kind = "Float64Array"; break;
      case napi_int32_array: kind = "Int32Array"; break;
      case napi_uint32_array: kind = "Uint32Array"; break;
      case napi_uint16_array: kind = "Uint16Array"; break;
      case napi_int16_array: kind = "Int16Array"; break;
      case napi_uint8_array: kind = "Uint8Array"; break;
      case napi_int8_array: kind = "Int8Array"; break;
      default: break;
    }
    return std::string(kind) + "(" + std::to_string(array.ElementLength()) + ")";
  }
#if defined(STEPRL_WITH_CUDA)
  if (const DeviceBuffer* buffer = DeviceBuffer::From(value)) {
    const DeviceTensor& t = buffer->tensor();
    return std::string(buffer->disposed() ? "a disposed " : "") + "DeviceBuffer " + dtype_name(t.dtype) + "(" +
           std::to_string(t.numel) + ")";
  }
#endif
  if (value.IsNumber()) return "number " + std::to_string(value.As<Napi::Number>().DoubleValue());
  if (value.IsBoolean()) return "boolean";
  if (value.IsString()) return "string";
  if (value.IsObject()) return "object";
  return "value";
}

DType dtype_of(napi_typedarray_type type, bool* ok) {
  *ok = true;
  switch (type) {
    case napi_float32_array: return DType::float32;
    case napi_uint16_array: return DType::bfloat16;
    case napi_int32_array: return DType::int32;
    case napi_uint8_array: return DType::uint8;
    default: *ok = false; return DType::float32;
  }
}

unsigned bit(DType d) { return 1u << static_cast<int>(d); }

TensorArg unpack(const Napi::Value& value, const char* name, unsigned accepted, const std::string& expected,
                 int64_t numel) {
#if defined(STEPRL_WITH_CUDA)
  if (const DeviceBuffer* buffer = DeviceBuffer::From(value)) {
    const DeviceTensor& t = buffer->tensor();
    if (buffer->disposed() || (accepted & bit(t.dtype)) == 0)
      throw ArgumentError(name, std::string("Expected ") + expected + " for " + name + " but received " + describe(value));
    if (t.numel != numel)
      throw ArgumentError(name, std::string("Expected ") + std::to_string(numel) + " elements for " + name +
                                    " but received " + describe(value));
    return t.arg();
  }
#endif
  if (!value.IsTypedArray())
    throw ArgumentError(name, std::string("Expected ") + expected + " for " + name + " but received " + describe(value));
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  bool ok = false;
  DType dtype = dtype_of(array.TypedArrayType(), &ok);
  if (!ok || (accepted & bit(dtype)) == 0)
    throw ArgumentError(name, std::string("Expected ") + expected + " for " + name + " but received " + describe(value));
  if (static_cast<int64_t>(array.ElementLength()) != numel)
    throw ArgumentError(name, std::string("Expected ") + std::to_string(numel) + " elements for " + name +
                                  " but received " + describe(value));
  TensorArg arg;
  arg.dtype = dtype;
  arg.device = Device::cpu;
  arg.numel = numel;
  arg.present = true;
  arg.data = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  return arg;
}

class OpWorker : public Napi::AsyncWorker {
 public:
  OpWorker(Napi::Env env, PreparedOp op, std::vector<Napi::Reference<Napi::Value>> keep)
      : Napi::AsyncWorker(env, "steprl.op"), op_(std::move(op)), keep_(std::move(keep)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      op_.run();
    } catch (const std::exception& e) {
      failure_ = std::current_exception();
      SetError(e.what());
    } catch (...) {
      SetError("steprl: unknown native exception");
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(op_.result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const std::exception& e) {
      deferred_.Reject(to_js_error(env, e).Value());
    }
  }

  void OnError(const Napi::Error& error) override {
    if (failure_) {
      try {
        std::rethrow_exception(failure_);
      } catch (const std::exception& e) {
        deferred_.Reject(to_js_error(Env(), e).Value());
        return;
      }
    }
    deferred_.Reject(error.Value());
  }

 private:
  PreparedOp op_;
  std::vector<Napi::Reference<Napi::Value>> keep_;
  Napi::Promise::Deferred deferred_;
  std::exception_ptr failure_;
};

}  // namespace

Napi::Error to_js_error(Napi::Env env, const std::exception& e) {
  if (auto* arg = dynamic_cast<const ArgumentError*>(&e)) {
    Napi::Error error = Napi::TypeError::New(env, e.what());
    set_code(error, "STEPRL_ARGUMENT");
    error.Set("argument", Napi::String::New(env, arg->argument()));
    return error;
  }
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) {
    Napi::Error error = Napi::Error::New(env, "steprl: out of memory while allocating a native buffer");
    set_code(error, "STEPRL_OUT_OF_MEMORY");
    return error;
  }
  if (dynamic_cast<const DeviceError*>(&e) != nullptr) {
    Napi::Error error = Napi::Error::New(env, e.what());
    set_code(error, "STEPRL_DEVICE");
    return error;
  }
  Napi::Error error = Napi::Error::New(env, std::string("steprl: ") + e.what());
  set_code(error, "STEPRL_NATIVE");
  return error;
}

void require_arity(const Napi::CallbackInfo& info, size_t n, const char* op) {
  if (info.Length() < n)
    throw ArgumentError("arguments", std::string("Expected ") + std::to_string(n) + " arguments for " + op +
                                         " but received " + std::to_string(info.Length()));
}

TensorArg tensor_arg(const Napi::CallbackInfo& info, size_t index, const char* name, DType dtype, int64_t numel) {
  return unpack(info[index], name, bit(dtype),
                std::string("a ") + typed_array_name(dtype) + " (" + dtype_name(dtype) + ")", numel);
}

TensorArg optional_tensor_arg(const Napi::CallbackInfo& info, size_t index, const char* name, DType dtype,
                              int64_t numel) {
  if (index >= info.Length() || info[index].IsUndefined() || info[index].IsNull()) return TensorArg{};
  return tensor_arg(info, index, name, dtype, numel);
}

TensorArg float_tensor_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t numel) {
  return unpack(info[index], name, bit(DType::float32) | bit(DType::bfloat16),
                "a Float32Array (float32) or Uint16Array (bfloat16)", numel);
}

TensorArg tensor_arg_of(const Napi::CallbackInfo& info, size_t index, const char* name, std::initializer_list<DType> dtypes,
                        int64_t numel) {
  unsigned accepted = 0;
  std::string expected = "a ";
  for (DType d : dtypes) {
    if (accepted != 0) expected += " or ";
    expected += std::string(typed_array_name(d)) + " (" + dtype_name(d) + ")";
    accepted |= bit(d);
  }
  return unpack(info[index], name, accepted, expected, numel);
}

int64_t int_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max) {
  Napi::Value v = info[index];
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(min) || d > static_cast<double>(max))
    throw ArgumentError(name, std::string("Expected an integer between ") + std::to_string(min) + " and " +
                                  std::to_string(max) + " for " + name + " but received " + describe(v));
  return static_cast<int64_t>(d);
}

double number_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value v = info[index];
  if (!v.IsNumber())
    throw ArgumentError(name, std::string("Expected a number for ") + name + " but received " + describe(v));
  return v.As<Napi::Number>().DoubleValue();
}

bool bool_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value v = info[index];
  if (!v.IsBoolean())
    throw ArgumentError(name, std::string("Expected a boolean for ") + name + " but received " + describe(v));
  return v.As<Napi::Boolean>().Value();
}

Device common_device(std::initializer_list<const TensorArg*> tensors) {
  Device device = Device::cpu;
  bool first = true;
  for (const TensorArg* t : tensors) {
    if (!t->present) continue;  // an optional tensor that was not given
    if (first) {
      device = t->device;
      first = false;
    } else if (t->device != device) {
      throw DeviceError("Expected all tensors on one device but received a mix of cpu and cuda");
    }
  }
  return device;
}

Napi::Value finish(const Napi::CallbackInfo& info, PreparedOp op, bool async) {
  Napi::Env env = info.Env();
  if (!async) {
    op.run();
    return op.result(env);
  }
  std::vector<Napi::Reference<Napi::Value>> keep;
  keep.reserve(info.Length());
  for (size_t i = 0; i < info.Length(); ++i)
    if (info[i].IsObject()) keep.push_back(Napi::Persistent(info[i]));
  auto* worker = new OpWorker(env, std::move(op), std::move(keep));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace steprl
