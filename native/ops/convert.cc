// ops/convert.cc: N-API glue for the checkpoint float conversions (cpu/convert.h), host memory only
// (checkpoints are read and written through host buffers).
//   widenToFloat32(out f32 [n], inp u16 [n], n, 'bfloat16' | 'float16')
//   narrowToBFloat16(out u16 [n], inp f32 [n], n)
//   readAsFloat32(fd, position, out f32 [n], n, 'float32' | 'bfloat16' | 'float16') -> elements read
//     (positioned reads of the open file over the thread pool; POSIX builds only)
#include <string>

#include "../cpu/convert.h"
#include "../napi_util.h"
#include "memory_checks.h"
#include "ops.h"

namespace steprl {
namespace {

void require_host(const TensorArg& t, const char* name) {
  if (t.device != Device::cpu) throw ArgumentError(name, std::string("Expected a typed array (host memory) for ") + name);
}

Napi::Value WidenToFloat32(const Napi::CallbackInfo& info) {
  require_arity(info, 4, "widenToFloat32");
  const int64_t n = int_arg(info, 2, "n", 0, int64_t{1} << 53);
  TensorArg out = tensor_arg(info, 0, "out", DType::float32, n);
  TensorArg inp = tensor_arg(info, 1, "inp", DType::bfloat16, n);
  require_host(out, "out");
  require_host(inp, "inp");
  require_disjoint(out, "out", inp, "inp");
  const std::string format = info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "";
  if (format != "bfloat16" && format != "float16")
    throw ArgumentError("format", "Expected 'bfloat16' or 'float16' for format but received '" + format + "'");
  cpu::widen_to_float32_cpu(out.as<float>(), inp.as<uint16_t>(), n,
                            format == "bfloat16" ? cpu::HalfFormat::bfloat16 : cpu::HalfFormat::float16);
  return info.Env().Undefined();
}

Napi::Value NarrowToBFloat16(const Napi::CallbackInfo& info) {
  require_arity(info, 3, "narrowToBFloat16");
  const int64_t n = int_arg(info, 2, "n", 0, int64_t{1} << 53);
  TensorArg out = tensor_arg(info, 0, "out", DType::bfloat16, n);
  TensorArg inp = tensor_arg(info, 1, "inp", DType::float32, n);
  require_host(out, "out");
  require_host(inp, "inp");
  require_disjoint(out, "out", inp, "inp");
  cpu::narrow_to_bfloat16_cpu(out.as<uint16_t>(), inp.as<float>(), n);
  return info.Env().Undefined();
}

#if !defined(_WIN32)
Napi::Value ReadAsFloat32(const Napi::CallbackInfo& info) {
  require_arity(info, 5, "readAsFloat32");
  const int fd = static_cast<int>(int_arg(info, 0, "fd", 0, 1 << 30));
  const int64_t position = int_arg(info, 1, "position", 0, int64_t{1} << 53);
  const int64_t n = int_arg(info, 3, "n", 0, int64_t{1} << 53);
  TensorArg out = tensor_arg(info, 2, "out", DType::float32, n);
  require_host(out, "out");
  const std::string format = info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : "";
  cpu::StoredFormat stored;
  if (format == "float32") stored = cpu::StoredFormat::float32;
  else if (format == "bfloat16") stored = cpu::StoredFormat::bfloat16;
  else if (format == "float16") stored = cpu::StoredFormat::float16;
  else throw ArgumentError("format", "Expected 'float32', 'bfloat16' or 'float16' for format but received '" + format + "'");
  return Napi::Number::New(info.Env(), static_cast<double>(cpu::read_as_float32_cpu(fd, position, out.as<float>(), n, stored)));
}
#endif

}  // namespace

void register_convert(Napi::Object exports) {
  STEPRL_EXPORT(exports, "widenToFloat32", WidenToFloat32);
  STEPRL_EXPORT(exports, "narrowToBFloat16", NarrowToBFloat16);
#if !defined(_WIN32)
  STEPRL_EXPORT(exports, "readAsFloat32", ReadAsFloat32);
#endif
}

STEPRL_REGISTER(register_convert);

}  // namespace steprl
