// tensor.cc: dtype tables and HostBuffer (aligned allocation, external ArrayBuffer hand-off).
#include "tensor.h"

#include <cstdlib>
#include <new>
#include <utility>

namespace steprl {
namespace {

constexpr size_t kAlignment = 64;

void* aligned_allocate(size_t bytes) {
  if (bytes == 0) bytes = kAlignment;
  size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
#if defined(_MSC_VER)
  void* p = _aligned_malloc(rounded, kAlignment);
#else
  void* p = std::aligned_alloc(kAlignment, rounded);
#endif
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void aligned_free(void* p) {
#if defined(_MSC_VER)
  _aligned_free(p);
#else
  std::free(p);
#endif
}

}  // namespace

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
    : data_(aligned_allocate(static_cast<size_t>(numel) * dtype_size(dtype))),
      dtype_(dtype),
      numel_(numel) {}

HostBuffer::HostBuffer(HostBuffer&& other) noexcept { *this = std::move(other); }

HostBuffer& HostBuffer::operator=(HostBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) aligned_free(data_);
    data_ = std::exchange(other.data_, nullptr);
    dtype_ = other.dtype_;
    numel_ = std::exchange(other.numel_, 0);
  }
  return *this;
}

HostBuffer::~HostBuffer() {
  if (data_ != nullptr) aligned_free(data_);
}

Napi::Value HostBuffer::release_to_js(Napi::Env env) {
  const size_t bytes = static_cast<size_t>(numel_) * dtype_size(dtype_);
  void* data = std::exchange(data_, nullptr);
  const int64_t numel = std::exchange(numel_, 0);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, data, bytes, [bytes](Napi::Env finalize_env, void* p) {
    aligned_free(p);
    Napi::MemoryManagement::AdjustExternalMemory(finalize_env, -static_cast<int64_t>(bytes));
  });
  // Tell V8 how much memory this handle keeps alive so large outputs trigger collection.
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(bytes));
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
