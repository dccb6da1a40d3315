// tensor.h: what a kernel sees of a tensor (pointer, dtype, device, element count) and the
// storage the addon owns: 64-byte aligned host buffers handed to JS as external ArrayBuffers.
//
// The TypeScript `Tensor` keeps shape and dtype; the addon only ever receives storage (a typed
// array for `cpu`, a DeviceBuffer for `cuda`) plus the sizes the op needs, and re-checks the
// element count against those sizes so no kernel can run past the end of a buffer.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace steprl {

enum class DType : int { float32 = 0, bfloat16 = 1, int32 = 2, uint8 = 3 };
enum class Device : int { cpu = 0, cuda = 1 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);
const char* typed_array_name(DType dtype);  // the JS typed array that stores it

struct TensorArg {
  void* data = nullptr;
  DType dtype = DType::float32;
  Device device = Device::cpu;
  int64_t numel = 0;
  bool present = false;  // false for an optional tensor that was not given
  std::shared_ptr<const void> owner;  // device memory: keeps it alive while an op uses it

  template <typename T> T* as() const { return static_cast<T*>(data); }
};

// Host memory for op outputs (host_pool.h): aligned for streaming stores, not zero-filled (every
// kernel writes every element), returned to the pool when JS disposes or collects it.
class HostBuffer {
 public:
  HostBuffer() = default;
  HostBuffer(DType dtype, int64_t numel);
  HostBuffer(HostBuffer&&) noexcept;
  HostBuffer& operator=(HostBuffer&&) noexcept;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  ~HostBuffer();

  TensorArg arg() const { return {data_, dtype_, Device::cpu, numel_, true, nullptr}; }
  template <typename T> T* as() const { return static_cast<T*>(data_); }
  size_t bytes() const;
  // Hands the memory to a new JS typed array of the matching kind; this buffer becomes empty.
  Napi::Value release_to_js(Napi::Env env);

 private:
  void* data_ = nullptr;
  DType dtype_ = DType::float32;
  int64_t numel_ = 0;
};

}  // namespace steprl
