// tensor.cc: dtype tables and HostBuffer (pooled aligned memory handed to JS as ArrayBuffers).
#include "tensor.h"

#include <utility>

#include "host_pool.h"

namespace steprl {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::float32: return 4;
    case DType::bfloat16: return 2;
    case DType::int32: return 4;
    case DType::uint8: return 1;
  }
  return 1;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::float32: return "float32";
    case DType::bfloat16: return "bfloat16";
    case DType::int32: return "int32";
    case DType::uint8: return "uint8";
  }
  return "unknown";
}

const char* typed_array_name(DType dtype) {
  switch (dtype) {
    case DType::float32: return "Float32Array";
    case DType::bfloat16: return "Uint16Array";
    case DType::int32: return "Int32Array";
    case DType::uint8: return "Uint8Array";
  }
  return "unknown";
}

HostBuffer::HostBuffer(DType dtype, int64_t numel)
    : data_(host_allocate(static_cast<size_t>(numel) * dtype_size(dtype))),
      dtype_(dtype),
      numel_(numel) {}

HostBuffer::HostBuffer(HostBuffer&& other) noexcept { *this = std::move(other); }

HostBuffer& HostBuffer::operator=(HostBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) host_free(data_, bytes());
    data_ = std::exchange(other.data_, nullptr);
    dtype_ = other.dtype_;
    numel_ = std::exchange(other.numel_, 0);
  }
  return *this;
}

HostBuffer::~HostBuffer() {
  if (data_ != nullptr) host_free(data_, bytes());
}

size_t HostBuffer::bytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }

Napi::Value HostBuffer::release_to_js(Napi::Env env) {
  const size_t bytes = this->bytes();
  void* data = std::exchange(data_, nullptr);
  const int64_t numel = std::exchange(numel_, 0);
  Napi::ArrayBuffer buffer = host_to_array_buffer(env, data, bytes);
  const size_t length = static_cast<size_t>(numel);
  switch (dtype_) {
    case DType::float32: return Napi::Float32Array::New(env, length, buffer, 0);
    case DType::bfloat16: return Napi::Uint16Array::New(env, length, buffer, 0);
    case DType::int32: return Napi::Int32Array::New(env, length, buffer, 0);
    case DType::uint8: return Napi::Uint8Array::New(env, length, buffer, 0);
  }
  return env.Undefined();
}

}  // namespace steprl
