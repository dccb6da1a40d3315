// memory_checks.h: checks the model ops (matmul, rmsnorm, rope, attention, swiglu, embedding,
// adamw, sampling, token log-probs) make before a kernel writes into caller-provided tensors: outputs that do not
// overlap the inputs they are computed from (unless the op documents in-place use), element counts
// whose products cannot overflow, and host access to the small index tensors (tokens, positions,
// kvStart) the glue range-checks, wherever they live.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "../napi_util.h"
#include "args.h"  // kMaxDim

#if defined(STEPRL_WITH_CUDA)
#include "../../cuda/device.h"
#endif

namespace steprl {

// The int32 values of `t` on the host: the typed array itself on the cpu; on cuda a copy, which
// waits for the kernels queued before it (the values may still be being written).
class HostInts {
 public:
  explicit HostInts(const TensorArg& t) : data_(t.as<const int32_t>()) {
#if defined(STEPRL_WITH_CUDA)
    if (t.present && t.device == Device::cuda) {
      copy_.resize(static_cast<size_t>(t.numel));
      cuda::copy_to_host(copy_.data(), t.data, copy_.size() * sizeof(int32_t));
      data_ = copy_.data();
    }
#endif
  }
  const int32_t* data() const { return data_; }

 private:
  const int32_t* data_;
  std::vector<int32_t> copy_;
};

inline bool overlaps(const TensorArg& a, const TensorArg& b) {
  if (!a.present || !b.present || a.numel == 0 || b.numel == 0) return false;
  const auto* a0 = static_cast<const uint8_t*>(a.data);
  const auto* b0 = static_cast<const uint8_t*>(b.data);
  const auto* a1 = a0 + a.numel * static_cast<int64_t>(dtype_size(a.dtype));
  const auto* b1 = b0 + b.numel * static_cast<int64_t>(dtype_size(b.dtype));
  return a0 < b1 && b0 < a1;
}

// `output` must share no memory with `input`.
inline void require_disjoint(const TensorArg& output, const char* output_name, const TensorArg& input,
                             const char* input_name) {
  if (overlaps(output, input))
    throw ArgumentError(output_name, std::string("Expected ") + output_name + " to share no memory with " + input_name +
                                         " but received overlapping tensors");
}

// `output` is either exactly `input` (in place: same start, dtype and element count) or shares no
// memory with it.
inline void require_same_or_disjoint(const TensorArg& output, const char* output_name, const TensorArg& input,
                                     const char* input_name) {
  if (overlaps(output, input) &&
      !(output.data == input.data && output.numel == input.numel && output.dtype == input.dtype))
    throw ArgumentError(output_name, std::string("Expected ") + output_name + " to be " + input_name +
                                         " itself or to share no memory with it but received partially overlapping tensors");
}

// Product of sizes; throws past 2^53 (no typed array is that long, and int64 cannot overflow).
inline int64_t elements(std::initializer_list<int64_t> sizes) {
  constexpr int64_t kLimit = int64_t{1} << 53;
  int64_t n = 1;
  for (int64_t s : sizes) {
    if (s != 0 && n > kLimit / s) throw ArgumentError("shape", "Expected a tensor of at most 2^53 elements but received larger sizes");
    n *= s;
  }
  return n;
}

}  // namespace steprl
