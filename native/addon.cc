// addon.cc: the module's Init and the registration list every glue file adds itself to
// (STEPRL_REGISTER in native/ops/ops.h). The CPU addon and the CUDA addon share it.
#include <napi.h>

#include <vector>

#include "cpu/scratch.h"
#include "host_pool.h"
#include "ops/ops.h"

namespace steprl {
namespace {

std::vector<RegisterFn>& registrations() {
  static std::vector<RegisterFn> list;  // constructed on first use: safe from any file's static initializer
  return list;
}

}  // namespace

bool add_registration(RegisterFn fn) {
  registrations().push_back(fn);
  return true;
}

void register_all(Napi::Object exports) {
  for (RegisterFn fn : registrations()) fn(exports);
}

}  // namespace steprl

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // The CPU kernels' large per-call scratch comes from the host pool (native/cpu/scratch.h).
  steprl::cpu::set_scratch_allocator(steprl::host_scratch_allocate, steprl::host_scratch_free);
#if defined(STEPRL_WITH_CUDA)
  steprl::register_device(exports);
#endif
  steprl::register_all(exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(steprl, Init)
