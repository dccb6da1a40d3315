// steprl/errors.h: the two exception types native code throws on purpose, free of N-API so that the
// CUDA sources (cuda/*.cu, compiled by nvcc or as simulator C++) can throw them too.
// napi_util.cc turns them into JS errors: ArgumentError -> code STEPRL_ARGUMENT with `argument`,
// DeviceError -> code STEPRL_DEVICE. Anything else becomes STEPRL_NATIVE.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace steprl {

// An error a caller caused: `argument` names the offending argument.
class ArgumentError : public std::runtime_error {
 public:
  ArgumentError(std::string argument, const std::string& message)
      : std::runtime_error(message), argument_(std::move(argument)) {}
  const std::string& argument() const { return argument_; }

 private:
  std::string argument_;
};

// Errors reported by a device runtime (CUDA); `what()` carries file and line.
class DeviceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace steprl
