// scratch.h: large per-call scratch memory for the CPU kernels, through a hook. By default it is
// plain aligned malloc/free; the addon points it at its host pool (host_pool.h) when it loads, so a
// kernel's big per-call buffer (linear_policy_loss.cc's block of logits) reuses the pool's cached
// pages across calls instead of faulting in fresh ones, while the kernels themselves stay free of
// N-API and build alone (tools/check_gpu links native/cpu without the addon).
#pragma once

#include <cstddef>

namespace steprl::cpu {

using ScratchAllocate = void* (*)(size_t bytes);
using ScratchFree = void (*)(void* data, size_t bytes);

// Both or neither: (nullptr, nullptr) restores the default. Set once at load, before any kernel runs.
void set_scratch_allocator(ScratchAllocate allocate, ScratchFree free);
void* scratch_allocate(size_t bytes);        // 64-byte aligned, not zeroed; throws std::bad_alloc
void scratch_free(void* data, size_t bytes);  // bytes as allocated

// `count` floats of scratch for the lifetime of the object.
class ScratchFloats {
 public:
  explicit ScratchFloats(size_t count) : bytes_(count * sizeof(float)), data_(static_cast<float*>(scratch_allocate(bytes_))) {}
  ~ScratchFloats() { scratch_free(data_, bytes_); }
  ScratchFloats(const ScratchFloats&) = delete;
  ScratchFloats& operator=(const ScratchFloats&) = delete;
  float* data() const { return data_; }

 private:
  size_t bytes_;
  float* data_;
};

}  // namespace steprl::cpu
