// ops/device.cc: N-API glue for cuda tensor storage (CUDA and simulator builds only).
//   toDevice(typedArray) -> DeviceBuffer          host -> device copy (dtype from the array kind)
//   toHost(buffer) -> typed array                 device -> host copy, waits for it
//   synchronize()                                 waits for every queued kernel and copy
//   deviceInfo() -> { deviceCount, error?, name, memory, allocator stats, ... }
//   trimDeviceCache()                             returns cached device blocks to CUDA
#include "../../cuda/device.h"
#include "../device_buffer.h"
#include "../napi_util.h"
#include "ops.h"

namespace steprl {
namespace {

DType dtype_of_array(const Napi::TypedArray& array) {
  switch (array.TypedArrayType()) {
    case napi_float32_array: return DType::float32;
    case napi_uint16_array: return DType::bfloat16;
    case napi_int32_array: return DType::int32;
    case napi_uint8_array: return DType::uint8;
    default:
      throw ArgumentError("data", "Expected a Float32Array, Uint16Array (bfloat16), Int32Array or Uint8Array for data");
  }
}

Napi::Value ToDevice(const Napi::CallbackInfo& info) {
  require_arity(info, 1, "toDevice");
  if (!info[0].IsTypedArray()) throw ArgumentError("data", "Expected a typed array for data");
  Napi::TypedArray array = info[0].As<Napi::TypedArray>();
  DeviceTensor tensor(dtype_of_array(array), static_cast<int64_t>(array.ElementLength()));
  const void* source = static_cast<const uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  cuda::copy_to_device(tensor.data, source, tensor.bytes());
  return tensor.to_js(info.Env());
}

Napi::Value ToHost(const Napi::CallbackInfo& info) {
  require_arity(info, 1, "toHost");
  const DeviceBuffer* buffer = DeviceBuffer::From(info[0]);
  if (buffer == nullptr || buffer->disposed())
    throw ArgumentError("buffer", "Expected a live DeviceBuffer for buffer");
  const DeviceTensor& t = buffer->tensor();
  HostBuffer host(t.dtype, t.numel);
  cuda::copy_to_host(host.as<void>(), t.data, host.bytes());
  return host.release_to_js(info.Env());
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  cuda::synchronize();
  return info.Env().Undefined();
}

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const cuda::DeviceInfo d = cuda::device_info();
  const cuda::AllocatorStats a = cuda::allocator_stats();
  Napi::Object out = Napi::Object::New(env);
  out.Set("deviceCount", d.device_count);
  if (!d.error.empty()) out.Set("error", d.error);
  out.Set("simulated", d.simulated);
  out.Set("name", d.name);
  out.Set("computeCapability", std::to_string(d.compute_major) + "." + std::to_string(d.compute_minor));
  out.Set("multiprocessors", d.multiprocessors);
  out.Set("totalMemory", static_cast<double>(d.total_memory));
  out.Set("freeMemory", static_cast<double>(d.free_memory));
  out.Set("runtimeVersion", d.runtime_version);
  out.Set("driverVersion", d.driver_version);
  Napi::Object allocator = Napi::Object::New(env);
  allocator.Set("liveBytes", static_cast<double>(a.live_bytes));
  allocator.Set("scratchBytes", static_cast<double>(a.scratch_bytes));
  allocator.Set("cachedBytes", static_cast<double>(a.cached_bytes));
  allocator.Set("deviceAllocations", static_cast<double>(a.device_allocations));
  allocator.Set("cacheHits", static_cast<double>(a.cache_hits));
  out.Set("allocator", allocator);
  return out;
}

Napi::Value TrimDeviceCache(const Napi::CallbackInfo& info) {
  cuda::trim_cache();
  return info.Env().Undefined();
}

}  // namespace

void register_device(Napi::Object exports) {
  DeviceBuffer::Register(exports.Env());
  STEPRL_EXPORT(exports, "toDevice", ToDevice);
  STEPRL_EXPORT(exports, "toHost", ToHost);
  STEPRL_EXPORT(exports, "synchronize", Synchronize);
  STEPRL_EXPORT(exports, "deviceInfo", DeviceInfo);
  STEPRL_EXPORT(exports, "trimDeviceCache", TrimDeviceCache);
}

}  // namespace steprl
