// ops.h: how a family's glue file exports its functions: it ends with
//   STEPRL_REGISTER_FUNCTION("name", Fn);               (one function), or
//   void register_<family>(Napi::Object exports) { STEPRL_EXPORT(exports, "name", Fn); ... }
//   STEPRL_REGISTER(register_<family>);                 (several)
// which add them to the list addon.cc's Init runs: a new family touches no other file for it.
#pragma once

#include <napi.h>

namespace steprl {

using RegisterFn = void (*)(Napi::Object exports);

// Appends `fn` to the registrations (at static initialization; returns true).
bool add_registration(RegisterFn fn);
// Runs every registration, in link order (binding.gyp's source order).
void register_all(Napi::Object exports);

void register_device(Napi::Object exports);  // CUDA and simulator builds only (STEPRL_WITH_CUDA); first

}  // namespace steprl

#define STEPRL_REGISTER(fn) \
  static const bool steprl_registered_##fn [[maybe_unused]] = ::steprl::add_registration(fn)

#define STEPRL_REGISTER_FUNCTION(name, fn)                                  \
  static const bool steprl_registered_##fn [[maybe_unused]] =               \
      ::steprl::add_registration([](Napi::Object exports) { STEPRL_EXPORT(exports, name, fn); })
