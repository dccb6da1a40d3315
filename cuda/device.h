// device.h: the CUDA device as the addon sees it: one stream, a caching allocator, copies,
// synchronization, device facts, and the error word kernels use to report bad input.
//
// Plain C++ (no CUDA headers), so native/ (compiled by the host compiler) can use it; the
// implementation is cuda/device.cu and cuda/allocator.cu (the caching allocator), built by nvcc
// or, for the simulator, by g++ against cuda/sim/.
// Every call that fails throws DeviceError naming the CUDA error, the call, file and line.
// Everything is ordered on one stream, so memory returned to the cache can be handed to the next
// op at once: that op's kernels run after every kernel still using the old contents. This is a
// rule for all code here: no launch, copy or memset on any other stream (nor the legacy default
// stream, which does not wait for a non-blocking one); the simulator fails any that breaks it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

struct CUstream_st;  // cudaStream_t is CUstream_st*, in CUDA and in the simulator

namespace steprl::cuda {

using Stream = CUstream_st*;

// The stream every copy and launch goes to (created on first use; throws without a device).
Stream stream();

// Device memory from the caching allocator; the destructor returns it to the cache.
class DeviceAllocation {
 public:
  // bytes == 0 gives data() == nullptr; `tensor`: a tensor's storage (else counted as scratch).
  DeviceAllocation(size_t bytes, bool tensor);
  ~DeviceAllocation();
  DeviceAllocation(const DeviceAllocation&) = delete;
  DeviceAllocation& operator=(const DeviceAllocation&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  template <typename T> T* as() const { return static_cast<T*>(data_); }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  size_t capacity_ = 0;  // the cache bucket it belongs to
  bool tensor_ = false;
};

std::shared_ptr<DeviceAllocation> allocate(size_t bytes);         // a kernel's scratch or temporary
std::shared_ptr<DeviceAllocation> allocate_tensor(size_t bytes);  // a tensor's storage (DeviceTensor)

struct AllocatorStats {
  int64_t live_bytes;      // handed out (bucket sizes)
  int64_t scratch_bytes;   // of live_bytes, not a tensor's storage: ops' scratch and temporaries
  int64_t cached_bytes;    // freed, kept for reuse
  int64_t device_allocations;  // cudaMalloc calls so far
  int64_t cache_hits;      // allocations served from the cache
};
AllocatorStats allocator_stats();
void trim_cache();  // cudaFree every cached block

// Host -> device: the source may be reused or freed as soon as this returns (small copies go
// through pinned staging blocks guarded by events, large ones wait for the copy).
void copy_to_device(void* device_dst, const void* host_src, size_t bytes);
// Device -> host: waits until the bytes have arrived.
void copy_to_host(void* host_dst, const void* device_src, size_t bytes);
// Device -> device; overlapping ranges give memmove's result (through a temporary).
void copy_device_to_device(void* dst, const void* src, size_t bytes);
void fill_bytes(void* device_dst, int value, size_t bytes);  // async, like cudaMemsetAsync
// Sets `count` elements of `word_bytes` (1, 2 or 4) bytes each to the low bytes of `pattern`.
void fill_words(void* device_dst, uint32_t pattern, int word_bytes, int64_t count);
uint32_t float32_bits(float value);
uint32_t bfloat16_bits(float value);  // round to nearest even, NaN kept
void synchronize();  // waits for everything queued on the stream

struct DeviceInfo {
  int device_count = 0;
  std::string error;  // why there is no usable device ("" when device_count > 0)
  std::string name;
  int compute_major = 0, compute_minor = 0, multiprocessors = 0;
  int64_t total_memory = 0, free_memory = 0;
  int runtime_version = 0, driver_version = 0;
  bool simulated = false;
};
DeviceInfo device_info();  // never throws for a missing driver or device: it says so in `error`

// `x` as JavaScript prints a number (shortest round trip; NaN, Infinity, 1e-7, 1e+21), so errors
// found on the device read like the TypeScript layer's ("received 0.5 of type number").
std::string js_number(double x);

// A device word kernels lower with atomicMin to report the first bad index (e.g. a target out of
// range); ~0 means nothing was reported. read() synchronizes.
class ErrorIndex {
 public:
  ErrorIndex();
  unsigned long long* device() const { return memory_->as<unsigned long long>(); }
  static constexpr uint64_t kNone = ~uint64_t{0};
  uint64_t read() const;

 private:
  std::shared_ptr<DeviceAllocation> memory_;
};

}  // namespace steprl::cuda
