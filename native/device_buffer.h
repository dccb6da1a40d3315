// device_buffer.h: DeviceBuffer, the JS handle of a cuda tensor's storage (CUDA and simulator
// builds only: STEPRL_WITH_CUDA).
//
// A DeviceBuffer owns a block of the caching allocator (cuda/device.h) through a shared_ptr:
// dispose() or garbage collection drops the handle's reference, and an op still in flight holds
// its own (TensorArg::owner), so the memory returns to the cache only when both are done. The
// buffer knows its dtype and element count; tensor_arg() accepts it wherever a typed array of
// that dtype and length is accepted, with device = cuda. view(offset, numel) makes a buffer over
// part of another (sharing its memory); fill and copyFrom run on the stream like any kernel. Objects are recognised by a type tag,
// never by duck typing, so no JS object can pass for one.
#pragma once

#include <napi.h>

#include <memory>

#include "../cuda/device.h"
#include "tensor.h"

namespace steprl {

// A device output an op fills: made before the launch, handed to JS afterwards.
// A view (DeviceBuffer.view) shares `memory` and starts `data` further in.
struct DeviceTensor {
  std::shared_ptr<cuda::DeviceAllocation> memory;
  void* data = nullptr;
  DType dtype = DType::float32;
  int64_t numel = 0;

  DeviceTensor() = default;
  DeviceTensor(DType type, int64_t count);  // fresh memory from the caching allocator
  template <typename T> T* as() const { return static_cast<T*>(data); }
  size_t bytes() const { return static_cast<size_t>(numel) * dtype_size(dtype); }
  TensorArg arg() const;
  Napi::Value to_js(Napi::Env env) const;  // a new DeviceBuffer sharing the memory
};

class DeviceBuffer : public Napi::ObjectWrap<DeviceBuffer> {
 public:
  static void Register(Napi::Env env);  // defines the class once per environment
  static Napi::Object New(Napi::Env env, const DeviceTensor& tensor);
  // The DeviceBuffer behind `value`, or nullptr when it is something else.
  static DeviceBuffer* From(const Napi::Value& value);

  explicit DeviceBuffer(const Napi::CallbackInfo& info);

  bool disposed() const { return !tensor_.memory; }
  const DeviceTensor& tensor() const { return tensor_; }

 private:
  Napi::Value Bytes(const Napi::CallbackInfo& info);
  Napi::Value DTypeName(const Napi::CallbackInfo& info);
  Napi::Value Numel(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value View(const Napi::CallbackInfo& info);      // view(offset, numel): shares the memory
  Napi::Value Fill(const Napi::CallbackInfo& info);      // fill(value): every element = value
  Napi::Value CopyFrom(const Napi::CallbackInfo& info);  // copyFrom(buffer): same dtype and numel
  const DeviceTensor& live(const char* what) const;       // throws once disposed

  DeviceTensor tensor_;
};

}  // namespace steprl
