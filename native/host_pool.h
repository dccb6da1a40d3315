// host_pool.h: the host memory behind addon-created tensors: aligned blocks, a cache of freed
// large blocks (so a training loop's per-step [R,V] gradients reuse memory instead of page-faulting
// fresh pages each step), and early release when JS disposes a tensor.
//
// A block handed to JS becomes an external ArrayBuffer. It returns to the pool either when JS calls
// releaseStorage (Tensor.dispose: the ArrayBuffer is detached first, so no JS view can reach the
// memory afterwards) or when the ArrayBuffer is garbage-collected, whichever comes first.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace steprl {

void* host_allocate(size_t bytes);           // 64-byte aligned (2 MiB when large)
void host_free(void* data, size_t bytes);    // back to the cache or the system
// The same for a kernel's per-call scratch (scratch.h): also counted in HostPoolStats::scratch_bytes.
void* host_scratch_allocate(size_t bytes);
void host_scratch_free(void* data, size_t bytes);

// Wraps `data` (from host_allocate) in an external ArrayBuffer that owns it.
Napi::ArrayBuffer host_to_array_buffer(Napi::Env env, void* data, size_t bytes);
// Detaches and frees the buffer behind `array` if the addon made it; false otherwise.
bool host_release(Napi::Env env, Napi::TypedArray array);

struct HostPoolStats {
  int64_t cached_bytes;
  int64_t live_bytes;     // every block out of the pool: tensors and kernel scratch
  int64_t scratch_bytes;  // of live_bytes, held by kernels in flight (scratch.h)
  int64_t cache_limit_bytes;
};
HostPoolStats host_pool_stats();
void host_pool_trim();                       // returns every cached block to the system

}  // namespace steprl
