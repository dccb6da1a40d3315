// device_buffer.cc: the DeviceBuffer class (see device_buffer.h). Its methods run outside
// entry<>, so each converts C++ exceptions itself (guard), like every other entry point.
#include "device_buffer.h"

#include <string>

#include "napi_util.h"

namespace steprl {
namespace {

// Marks objects made by this class; CheckTypeTag rejects look-alikes.
constexpr napi_type_tag kDeviceBufferTag = {0x7e5f3c2a9b014d6eULL, 0xa1c48e2f63b7d905ULL};

struct ClassData {
  Napi::FunctionReference constructor;
};

template <typename F>
Napi::Value guard(const Napi::CallbackInfo& info, F body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw to_js_error(info.Env(), e);
  }
}

}  // namespace

DeviceTensor::DeviceTensor(DType type, int64_t count)
    : memory(cuda::allocate_tensor(static_cast<size_t>(count) * dtype_size(type))), data(memory->data()), dtype(type),
      numel(count) {}

TensorArg DeviceTensor::arg() const {
  TensorArg a;
  a.data = data;
  a.dtype = dtype;
  a.device = Device::cuda;
  a.numel = numel;
  a.present = true;
  a.owner = memory;
  return a;
}

Napi::Value DeviceTensor::to_js(Napi::Env env) const { return DeviceBuffer::New(env, *this); }

void DeviceBuffer::Register(Napi::Env env) {
  if (env.GetInstanceData<ClassData>() != nullptr) return;
  Napi::Function constructor = DefineClass(env, "DeviceBuffer", {
      InstanceAccessor<&DeviceBuffer::Bytes>("bytes"),
      InstanceAccessor<&DeviceBuffer::DTypeName>("dtype"),
      InstanceAccessor<&DeviceBuffer::Numel>("numel"),
      InstanceAccessor<&DeviceBuffer::Disposed>("disposed"),
      InstanceMethod<&DeviceBuffer::Dispose>("dispose"),
      InstanceMethod<&DeviceBuffer::View>("view"),
      InstanceMethod<&DeviceBuffer::Fill>("fill"),
      InstanceMethod<&DeviceBuffer::CopyFrom>("copyFrom"),
  });
  auto* data = new ClassData;
  data->constructor = Napi::Persistent(constructor);
  env.SetInstanceData(data);  // deleted with the environment
}

Napi::Object DeviceBuffer::New(Napi::Env env, const DeviceTensor& tensor) {
  Register(env);
  DeviceTensor copy = tensor;
  Napi::Object object = env.GetInstanceData<ClassData>()->constructor.New({Napi::External<DeviceTensor>::New(env, &copy)});
  object.TypeTag(&kDeviceBufferTag);
  return object;
}

DeviceBuffer* DeviceBuffer::From(const Napi::Value& value) {
  if (!value.IsObject()) return nullptr;
  Napi::Object object = value.As<Napi::Object>();
  if (!object.CheckTypeTag(&kDeviceBufferTag)) return nullptr;
  return Napi::ObjectWrap<DeviceBuffer>::Unwrap(object);
}

DeviceBuffer::DeviceBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceBuffer>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "steprl: DeviceBuffers are made by toDevice() and by ops, not by new");
  tensor_ = *info[0].As<Napi::External<DeviceTensor>>().Data();
}

Napi::Value DeviceBuffer::Bytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(tensor_.numel) * static_cast<double>(dtype_size(tensor_.dtype)));
}

Napi::Value DeviceBuffer::DTypeName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dtype_name(tensor_.dtype));
}

Napi::Value DeviceBuffer::Numel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(tensor_.numel));
}

Napi::Value DeviceBuffer::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), disposed());
}

Napi::Value DeviceBuffer::Dispose(const Napi::CallbackInfo& info) {
  tensor_.memory.reset();  // an op in flight, or a view, keeps its own reference
  tensor_.data = nullptr;
  return info.Env().Undefined();
}

const DeviceTensor& DeviceBuffer::live(const char* what) const {
  if (disposed()) throw ArgumentError("buffer", std::string("Expected a live DeviceBuffer for ") + what + " but it was disposed");
  return tensor_;
}

Napi::Value DeviceBuffer::View(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    require_arity(info, 2, "view");
    const DeviceTensor& t = live("view");
    const int64_t offset = int_arg(info, 0, "offset", 0, t.numel);
    const int64_t numel = int_arg(info, 1, "numel", 0, t.numel - offset);
    DeviceTensor window = t;
    window.data = static_cast<uint8_t*>(t.data) + static_cast<size_t>(offset) * dtype_size(t.dtype);
    window.numel = numel;
    return New(info.Env(), window);
  });
}

Napi::Value DeviceBuffer::Fill(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    require_arity(info, 1, "fill");
    const DeviceTensor& t = live("fill");
    const double value = number_arg(info, 0, "value");
    switch (t.dtype) {
      case DType::float32: cuda::fill_words(t.data, cuda::float32_bits(static_cast<float>(value)), 4, t.numel); break;
      case DType::bfloat16: cuda::fill_words(t.data, cuda::bfloat16_bits(static_cast<float>(value)), 2, t.numel); break;
      case DType::int32: cuda::fill_words(t.data, static_cast<uint32_t>(static_cast<int32_t>(value)), 4, t.numel); break;
      case DType::uint8: cuda::fill_words(t.data, static_cast<uint32_t>(static_cast<uint8_t>(value)), 1, t.numel); break;
    }
    return info.Env().Undefined();
  });
}

Napi::Value DeviceBuffer::CopyFrom(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    require_arity(info, 1, "copyFrom");
    const DeviceTensor& t = live("copyFrom");
    const DeviceBuffer* source = From(info[0]);
    if (source == nullptr || source->disposed())
      throw ArgumentError("source", "Expected a live DeviceBuffer for source");
    const DeviceTensor& s = source->tensor();
    if (s.dtype != t.dtype || s.numel != t.numel)
      throw ArgumentError("source", std::string("Expected ") + std::to_string(t.numel) + " " + dtype_name(t.dtype) +
                                        " elements for source but received " + std::to_string(s.numel) + " " + dtype_name(s.dtype));
    cuda::copy_device_to_device(t.data, s.data, t.bytes());
    return info.Env().Undefined();
  });
}

}  // namespace steprl
