// ops/system.cc: what the addon is and how it runs: build info, SIMD level, threads, probes.
#include <cstring>
#include <string>

#include "../cpu/parallel.h"
#include "../cpu/probe.h"
#include "../cpu/fma_probe.h"
#include "../cpu/simd.h"
#include "../host_pool.h"
#include "../napi_util.h"
#include "ops.h"

namespace steprl {
namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
#if defined(STEPRL_WITH_CUDA_SIM)
  out.Set("backend", "cuda-sim");
#elif defined(STEPRL_WITH_CUDA)
  out.Set("backend", "cuda");
#else
  out.Set("backend", "cpu");
#endif
  out.Set("simd", cpu::simd_name(cpu::simd_level()));
  out.Set("simdSupported", cpu::simd_name(cpu::simd_supported()));
  out.Set("threads", cpu::num_threads());
  out.Set("napiVersion", NAPI_VERSION);
  return out;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  require_arity(info, 1, "setNumThreads");
  cpu::set_num_threads(static_cast<int>(int_arg(info, 0, "threads", 0, 256)));
  return Napi::Number::New(info.Env(), cpu::num_threads());
}

Napi::Value SetSimd(const Napi::CallbackInfo& info) {
  require_arity(info, 1, "setSimdLevel");
  const std::string level = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (level == "scalar") cpu::set_simd_level(cpu::SimdLevel::scalar);
  else if (level == "avx2") cpu::set_simd_level(cpu::SimdLevel::avx2);
  else if (level == "avx512") cpu::set_simd_level(cpu::SimdLevel::avx512);
  else throw ArgumentError("level", "Expected one of scalar, avx2, avx512 for level but received " + level);
  return Napi::String::New(info.Env(), cpu::simd_name(cpu::simd_level()));
}

Napi::Value ProbeReadBandwidth(const Napi::CallbackInfo& info) {
  require_arity(info, 2, "probeReadBandwidth");
  const int64_t bytes = int_arg(info, 0, "bytes", 1, int64_t{1} << 36);
  const int repeats = static_cast<int>(int_arg(info, 1, "repeats", 1, 1000));
  return Napi::Number::New(info.Env(), cpu::probe_read_bandwidth(bytes, repeats));
}

// probeFmaPeak(milliseconds, repeats) -> GFLOP/s of fp32 FMAs on every pool thread (best of repeats).
Napi::Value ProbeFmaPeak(const Napi::CallbackInfo& info) {
  require_arity(info, 2, "probeFmaPeak");
  const double ms = number_arg(info, 0, "milliseconds");
  if (!(ms > 0.0 && ms <= 60000.0)) throw ArgumentError("milliseconds", "Expected milliseconds in (0, 60000]");
  const int repeats = static_cast<int>(int_arg(info, 1, "repeats", 1, 1000));
  return Napi::Number::New(info.Env(), cpu::probe_fma_peak(ms, repeats));
}

// Frees an addon-made typed array's memory now (Tensor.dispose); false if the addon did not make it.
Napi::Value ReleaseStorage(const Napi::CallbackInfo& info) {
  require_arity(info, 1, "releaseStorage");
  if (!info[0].IsTypedArray()) throw ArgumentError("storage", "Expected a typed array for storage");
  return Napi::Boolean::New(info.Env(), host_release(info.Env(), info[0].As<Napi::TypedArray>()));
}

// hostZeros(dtype, numel) -> a zero-filled typed array in the addon's host memory, which
// Tensor.dispose() frees at once (releaseStorage) where a JS-made array waits for garbage collection.
Napi::Value HostZeros(const Napi::CallbackInfo& info) {
  require_arity(info, 2, "hostZeros");
  const std::string name = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  DType dtype;
  if (name == "float32") dtype = DType::float32;
  else if (name == "bfloat16") dtype = DType::bfloat16;
  else if (name == "int32") dtype = DType::int32;
  else if (name == "uint8") dtype = DType::uint8;
  else throw ArgumentError("dtype", "Expected one of float32, bfloat16, int32, uint8 for dtype but received " + name);
  HostBuffer buffer(dtype, int_arg(info, 1, "numel", 0, int64_t{1} << 40));
  if (buffer.bytes() > 0) std::memset(buffer.as<void>(), 0, buffer.bytes());
  return buffer.release_to_js(info.Env());
}

Napi::Value HostMemory(const Napi::CallbackInfo& info) {
  const HostPoolStats stats = host_pool_stats();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("liveBytes", static_cast<double>(stats.live_bytes));
  out.Set("scratchBytes", static_cast<double>(stats.scratch_bytes));
  out.Set("cachedBytes", static_cast<double>(stats.cached_bytes));
  out.Set("cacheLimitBytes", static_cast<double>(stats.cache_limit_bytes));
  return out;
}

Napi::Value TrimHostCache(const Napi::CallbackInfo& info) {
  host_pool_trim();
  return info.Env().Undefined();
}

}  // namespace

void register_system(Napi::Object exports) {
  STEPRL_EXPORT(exports, "info", Info);
  STEPRL_EXPORT(exports, "setNumThreads", SetThreads);
  STEPRL_EXPORT(exports, "setSimdLevel", SetSimd);
  STEPRL_EXPORT(exports, "probeReadBandwidth", ProbeReadBandwidth);
  STEPRL_EXPORT(exports, "probeFmaPeak", ProbeFmaPeak);
  STEPRL_EXPORT(exports, "releaseStorage", ReleaseStorage);
  STEPRL_EXPORT(exports, "hostMemory", HostMemory);
  STEPRL_EXPORT(exports, "hostZeros", HostZeros);
  STEPRL_EXPORT(exports, "trimHostCache", TrimHostCache);
}

STEPRL_REGISTER(register_system);

}  // namespace steprl
