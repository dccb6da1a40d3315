// ops/convert.cc: N-API glue for the checkpoint float conversions (cpu/convert.h), host memory only
// (checkpoints are read and written through host buffers).
//   widenToFloat32(out f32 [n], inp u16 [n], n, 'bfloat16' | 'float16')
//   narrowToBFloat16(out u16 [n], inp f32 [n], n)
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

}  // namespace

void register_convert(Napi::Object exports) {
  STEPRL_EXPORT(exports, "widenToFloat32", WidenToFloat32);
  STEPRL_EXPORT(exports, "narrowToBFloat16", NarrowToBFloat16);
}

}  // namespace steprl
