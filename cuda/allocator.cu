// allocator.cu: the caching allocator behind device.h (DeviceAllocation, allocate, allocator_stats).
//
// Allocator: freed blocks wait in per-size buckets and are reused by the next request of the same
// bucket (no cudaMalloc/cudaFree, which synchronize the device, in a training loop). Buckets are
// 512 B multiples below 1 MiB and 1/8 of the enclosing power of two above (<= 12.5% slack). In the
// simulator every request is its own exact-size bucket, so the guard page still sits right after
// the data and an out-of-bounds kernel access is caught; reused blocks are refilled with 0xff (NaN)
// there, as fresh ones are. On out-of-memory the cache is emptied and the request retried once.
// STEPRL_CUDA_NO_CACHE=1 (read once, at the first allocation) turns the cache off: every request is
// a cudaMalloc and every freed block goes back to cudaFree after the stream drains, so
// compute-sanitizer's initcheck sees each block's first read (a reused block's stale bytes count as
// written for it) and memcheck flags a use after free. For sanitizer runs (scripts/check-gpu.sh):
// slow, as every free synchronizes the device.
#include "device.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common.cuh"

namespace steprl::cuda {
namespace {

size_t bucket_size(size_t bytes) {
#if defined(STEPRL_CUDA_SIM)
  return bytes;
#else
  if (bytes < (size_t{1} << 20)) return (bytes + 511) / 512 * 512;
  size_t power = size_t{1} << 20;
  while (power <= bytes / 2) power <<= 1;  // now power <= bytes < 2 * power
  const size_t step = power / 8;
  return (bytes + step - 1) / step * step;
#endif
}

bool cache_disabled() {
  static const bool disabled = [] {
    const char* value = std::getenv("STEPRL_CUDA_NO_CACHE");
    return value != nullptr && std::strcmp(value, "1") == 0;
  }();
  return disabled;
}

class Allocator {
 public:
  // `scratch`: anything but a tensor's storage (allocate(), not allocate_tensor()), counted in
  // scratch_ too, under the same lock as live_ so that the two are read consistently.
  void* get(size_t bytes, size_t* capacity, bool scratch) {
    const size_t size = bucket_size(bytes);
    *capacity = size;
    if (!cache_disabled()) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= static_cast<int64_t>(size);
        live_ += static_cast<int64_t>(size);
        if (scratch) scratch_ += static_cast<int64_t>(size);
        ++hits_;
#if defined(STEPRL_CUDA_SIM)
        STEPRL_CUDA_CHECK(cudaMemsetAsync(p, 0xff, size, stream()));  // stale reads show as NaN
#endif
        return p;
      }
    }
    void* p = nullptr;
    cudaError_t error = cudaMalloc(&p, size);
    if (error == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      trim();
      error = cudaMalloc(&p, size);
    }
    if (error != cudaSuccess) {
      (void)cudaGetLastError();
      const AllocatorStats s = stats();
      throw_cuda_error(error, "cudaMalloc", __FILE__, __LINE__,
                       (std::to_string(size) + " bytes requested; " + std::to_string(s.live_bytes) +
                        " bytes live in steprl tensors").c_str());
    }
    std::lock_guard<std::mutex> lock(mutex_);
    live_ += static_cast<int64_t>(size);
    if (scratch) scratch_ += static_cast<int64_t>(size);
    ++allocations_;
    return p;
  }

  // The block may still be read or written by kernels queued before this: the next get() hands it
  // out at once, which is correct only because every launch and copy goes to stream() (the one
  // stream), so the new owner's work runs after them. The simulator enforces that rule
  // (set_sole_stream); a second stream would need an event recorded per freed block.
  void put(void* p, size_t size, bool scratch) {
    if (cache_disabled()) {
      // Kernels queued before this may still use the block: wait for them, then free it. Errors
      // are not thrown from here (a destructor); a failed kernel reports at the next checked call.
      (void)cudaStreamSynchronize(stream());
      (void)cudaFree(p);
      (void)cudaGetLastError();
      std::lock_guard<std::mutex> lock(mutex_);
      live_ -= static_cast<int64_t>(size);
      if (scratch) scratch_ -= static_cast<int64_t>(size);
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    free_[size].push_back(p);
    live_ -= static_cast<int64_t>(size);
    if (scratch) scratch_ -= static_cast<int64_t>(size);
    cached_ += static_cast<int64_t>(size);
  }

  void trim() {
    std::unordered_map<size_t, std::vector<void*>> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks.swap(free_);
      cached_ = 0;
    }
    for (auto& bucket : blocks)
      for (void* p : bucket.second) (void)cudaFree(p);  // cudaFree waits for the device itself
    (void)cudaGetLastError();
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return AllocatorStats{live_, scratch_, cached_, allocations_, hits_};
  }

 private:
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  int64_t live_ = 0, scratch_ = 0, cached_ = 0, allocations_ = 0, hits_ = 0;
};

// Never destroyed: buffers may be finalized after static destructors, when the CUDA runtime is
// already shutting down; the process exit releases device memory anyway.
Allocator& allocator() {
  static Allocator* instance = new Allocator;
  return *instance;
}

}  // namespace

DeviceAllocation::DeviceAllocation(size_t bytes, bool tensor) : bytes_(bytes), tensor_(tensor) {
  if (bytes > 0) data_ = allocator().get(bytes, &capacity_, !tensor);
}

DeviceAllocation::~DeviceAllocation() {
  if (data_ != nullptr) allocator().put(data_, capacity_, !tensor_);
}

std::shared_ptr<DeviceAllocation> allocate(size_t bytes) { return std::make_shared<DeviceAllocation>(bytes, false); }
std::shared_ptr<DeviceAllocation> allocate_tensor(size_t bytes) { return std::make_shared<DeviceAllocation>(bytes, true); }

AllocatorStats allocator_stats() { return allocator().stats(); }
void trim_cache() { allocator().trim(); }

}  // namespace steprl::cuda
