// runtime.cc: the CUDA runtime calls of runtime.h that are not memory allocation or launches.
//
// Error state is per host thread, as in CUDA: every failing call records its error, which
// cudaGetLastError returns and clears. A kernel fault (barrier deadlock, trap, out-of-bounds
// write caught by a canary) is also returned by the next synchronizing call until it is read;
// unlike a GPU the simulator's context survives, so reading it makes later calls work again.
// Copies and memsets check that the device side lies inside one live cudaMalloc allocation;
// copies between overlapping ranges (undefined on a GPU) fail with cudaErrorInvalidValue.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include <unistd.h>

#include "sched.h"

struct CUstream_st {
  unsigned magic;
  unsigned flags;
};
struct CUevent_st {
  unsigned magic;
  bool recorded;
  std::chrono::steady_clock::time_point time;
};

namespace steprl_sim {
namespace {

constexpr unsigned kStreamMagic = 0x5743a11u, kEventMagic = 0xe7e27u;

struct ErrorState {
  cudaError_t last;
  cudaError_t fault;
  char message[1024];
};
thread_local ErrorState tl_errors;  // zero-initialized: cudaSuccess, empty message

bool is_kernel_fault(cudaError_t e) {
  return e == cudaErrorLaunchFailure || e == cudaErrorIllegalAddress || e == cudaErrorMisalignedAddress ||
         e == cudaErrorAssert;
}

cudaError_t synchronize() { return record_error(pending_fault()); }

cudaError_t copy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
  if (bytes == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr) return record_error(cudaErrorInvalidValue);
  bool dst_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  bool src_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (kind == cudaMemcpyDefault) {
    dst_device = is_device_pointer(dst);
    src_device = is_device_pointer(src);
  } else if (kind != cudaMemcpyHostToHost && !dst_device && !src_device) {
    return record_error(cudaErrorInvalidMemcpyDirection);
  }
  if ((dst_device && !device_range_valid(dst, bytes)) || (src_device && !device_range_valid(src, bytes))) {
    return record_error(cudaErrorInvalidValue);
  }
  const auto d = reinterpret_cast<std::uintptr_t>(dst), s = reinterpret_cast<std::uintptr_t>(src);
  if (d < s + bytes && s < d + bytes) {
    // Undefined on a GPU (the copy engine does not memmove): refuse it, so the caller's bug shows.
    return record_error(cudaErrorInvalidValue);
  }
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t fill(void* dst, int value, std::size_t bytes) {
  if (bytes == 0) return cudaSuccess;
  if (!device_range_valid(dst, bytes)) return record_error(cudaErrorInvalidValue);
  std::memset(dst, value, bytes);
  return cudaSuccess;
}

std::atomic<cudaStream_t> g_sole_stream{nullptr};  // set_sole_stream

bool valid_stream(cudaStream_t s) {
  const cudaStream_t sole = g_sole_stream.load(std::memory_order_relaxed);
  if (sole != nullptr && s != sole) return false;
  return s == nullptr || s->magic == kStreamMagic;
}

}  // namespace

cudaError_t record_error(cudaError_t error) {
  if (error != cudaSuccess) tl_errors.last = error;
  return error;
}

cudaError_t pending_fault() { return tl_errors.fault; }

void set_launch_failure(cudaError_t error, const char* message) {
  tl_errors.last = error;
  if (is_kernel_fault(error)) tl_errors.fault = error;
  std::snprintf(tl_errors.message, sizeof tl_errors.message, "%s", message);
}

const char* last_launch_failure() { return tl_errors.message; }

void set_sole_stream(cudaStream_t stream) { g_sole_stream.store(stream); }

bool launch_stream_allowed(cudaStream_t stream, const char* name) {
  if (valid_stream(stream)) return true;
  std::snprintf(tl_errors.message, sizeof tl_errors.message,
                "kernel %s: launched on stream %p, but everything must go to the one stream %p (the caching "
                "allocator reuses freed blocks at once, which is safe only in one stream order)",
                name, static_cast<void*>(stream), static_cast<void*>(g_sole_stream.load()));
  tl_errors.last = cudaErrorInvalidResourceHandle;
  return false;
}

const Arch& arch() {
  static const Arch* chosen = [] {
    static const Arch table[] = {
        {"sm_90", 9, 0, 227 * 1024, 228 * 1024, 132},  // H100
        {"sm_80", 8, 0, 163 * 1024, 164 * 1024, 108},  // A100
        {"sm_86", 8, 6, 99 * 1024, 100 * 1024, 84},    // RTX 30xx, A40
        {"sm_89", 8, 9, 99 * 1024, 100 * 1024, 128},   // RTX 40xx, L40
    };
    const char* wanted = std::getenv("STEPRL_SIM_ARCH");
    if (wanted == nullptr || wanted[0] == '\0') return &table[0];
    for (const Arch& a : table)
      if (std::strcmp(a.name, wanted) == 0) return &a;
    std::fprintf(stderr, "steprl cuda-sim: STEPRL_SIM_ARCH=%s is not one of sm_80, sm_86, sm_89, sm_90; using sm_90\n",
                 wanted);
    return &table[0];
  }();
  return *chosen;
}

}  // namespace steprl_sim

using namespace steprl_sim;

cudaError_t cudaGetLastError() {
  const cudaError_t e = tl_errors.last;
  tl_errors.last = cudaSuccess;
  tl_errors.fault = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return tl_errors.last; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
#define STEPRL_SIM_NAME(e) case e: return #e;
    STEPRL_SIM_NAME(cudaSuccess) STEPRL_SIM_NAME(cudaErrorInvalidValue) STEPRL_SIM_NAME(cudaErrorMemoryAllocation)
    STEPRL_SIM_NAME(cudaErrorInitializationError) STEPRL_SIM_NAME(cudaErrorInvalidConfiguration)
    STEPRL_SIM_NAME(cudaErrorInvalidDevicePointer) STEPRL_SIM_NAME(cudaErrorInvalidMemcpyDirection)
    STEPRL_SIM_NAME(cudaErrorInvalidDeviceFunction) STEPRL_SIM_NAME(cudaErrorNoDevice)
    STEPRL_SIM_NAME(cudaErrorInvalidDevice) STEPRL_SIM_NAME(cudaErrorInvalidResourceHandle)
    STEPRL_SIM_NAME(cudaErrorNotReady) STEPRL_SIM_NAME(cudaErrorIllegalAddress)
    STEPRL_SIM_NAME(cudaErrorLaunchOutOfResources) STEPRL_SIM_NAME(cudaErrorAssert)
    STEPRL_SIM_NAME(cudaErrorMisalignedAddress) STEPRL_SIM_NAME(cudaErrorLaunchFailure)
    STEPRL_SIM_NAME(cudaErrorNotSupported) STEPRL_SIM_NAME(cudaErrorUnknown)
#undef STEPRL_SIM_NAME
  }
  return "cudaErrorUnrecognized";
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorAssert: return "device-side assert triggered";
    case cudaErrorMisalignedAddress: return "misaligned address";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorNotSupported: return "operation not supported";
    case cudaErrorUnknown: return "unknown error";
  }
  return "unrecognized error code";
}

cudaError_t cudaMallocHost(void** pointer, std::size_t bytes) {
  if (pointer == nullptr) return record_error(cudaErrorInvalidValue);
  *pointer = nullptr;
  if (bytes == 0) return cudaSuccess;
  if (posix_memalign(pointer, 256, bytes) != 0) return record_error(cudaErrorMemoryAllocation);
  return cudaSuccess;
}
cudaError_t cudaFreeHost(void* pointer) {
  std::free(pointer);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(std::size_t* free_bytes, std::size_t* total_bytes) {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  if (total_bytes) *total_bytes = page * static_cast<std::size_t>(sysconf(_SC_PHYS_PAGES));
  if (free_bytes) *free_bytes = page * static_cast<std::size_t>(sysconf(_SC_AVPHYS_PAGES));
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
  if (!valid_stream(nullptr)) return record_error(cudaErrorInvalidResourceHandle);  // the legacy stream
  if (const cudaError_t e = synchronize()) return e;
  return copy(dst, src, bytes, kind);
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  if (!valid_stream(stream)) return record_error(cudaErrorInvalidResourceHandle);
  return copy(dst, src, bytes, kind);
}
cudaError_t cudaMemset(void* dst, int value, std::size_t bytes) {
  if (!valid_stream(nullptr)) return record_error(cudaErrorInvalidResourceHandle);  // the legacy stream
  return fill(dst, value, bytes);
}
cudaError_t cudaMemsetAsync(void* dst, int value, std::size_t bytes, cudaStream_t stream) {
  if (!valid_stream(stream)) return record_error(cudaErrorInvalidResourceHandle);
  return fill(dst, value, bytes);
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  if (stream == nullptr) return record_error(cudaErrorInvalidValue);
  *stream = new (std::nothrow) CUstream_st{kStreamMagic, flags};
  return *stream ? cudaSuccess : record_error(cudaErrorMemoryAllocation);
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream == nullptr || stream->magic != kStreamMagic) return record_error(cudaErrorInvalidResourceHandle);
  stream->magic = 0;
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (!valid_stream(stream)) return record_error(cudaErrorInvalidResourceHandle);
  return synchronize();
}
cudaError_t cudaDeviceSynchronize() { return synchronize(); }

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  if (event == nullptr) return record_error(cudaErrorInvalidValue);
  *event = new (std::nothrow) CUevent_st{kEventMagic, false, {}};
  return *event ? cudaSuccess : record_error(cudaErrorMemoryAllocation);
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  if ((flags & ~0x0fu) != 0) return record_error(cudaErrorInvalidValue);
  return cudaEventCreate(event);
}
// Everything queued has already run: an event is complete as soon as it is recorded (or never was).
cudaError_t cudaEventQuery(cudaEvent_t event) {
  if (event == nullptr || event->magic != kEventMagic) return record_error(cudaErrorInvalidResourceHandle);
  return pending_fault();
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (event == nullptr || event->magic != kEventMagic) return record_error(cudaErrorInvalidResourceHandle);
  event->magic = 0;
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (event == nullptr || event->magic != kEventMagic || !valid_stream(stream)) {
    return record_error(cudaErrorInvalidResourceHandle);
  }
  event->recorded = true;
  event->time = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (event == nullptr || event->magic != kEventMagic) return record_error(cudaErrorInvalidResourceHandle);
  return synchronize();
}
cudaError_t cudaEventElapsedTime(float* milliseconds, cudaEvent_t start, cudaEvent_t end) {
  if (milliseconds == nullptr) return record_error(cudaErrorInvalidValue);
  if (start == nullptr || end == nullptr || start->magic != kEventMagic || end->magic != kEventMagic) {
    return record_error(cudaErrorInvalidResourceHandle);
  }
  if (!start->recorded || !end->recorded) return record_error(cudaErrorInvalidResourceHandle);
  *milliseconds = std::chrono::duration<float, std::milli>(end->time - start->time).count();
  return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
  if (count == nullptr) return record_error(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  if (device == nullptr) return record_error(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : record_error(cudaErrorInvalidDevice); }
cudaError_t cudaDeviceReset() { return cudaSuccess; }
cudaError_t cudaRuntimeGetVersion(int* version) {
  if (version == nullptr) return record_error(cudaErrorInvalidValue);
  *version = CUDART_VERSION;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* version) { return cudaRuntimeGetVersion(version); }

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (p == nullptr) return record_error(cudaErrorInvalidValue);
  if (device != 0) return record_error(cudaErrorInvalidDevice);
  std::memset(p, 0, sizeof *p);
  const Arch& a = arch();
  std::snprintf(p->name, sizeof p->name, "steprl SIMT simulator");
  p->totalGlobalMem = std::size_t{80} << 30;  // H100 SXM-like figures, limits of STEPRL_SIM_ARCH
  p->sharedMemPerBlock = 48 * 1024;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024;
  p->maxThreadsDim[1] = 1024;
  p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 2147483647;
  p->maxGridSize[1] = 65535;
  p->maxGridSize[2] = 65535;
  p->totalConstMem = 65536;
  p->major = a.major;
  p->minor = a.minor;
  p->multiProcessorCount = a.multiprocessors;
  p->memoryBusWidth = 5120;
  p->l2CacheSize = 50 * 1024 * 1024;
  p->maxThreadsPerMultiProcessor = 2048;
  p->sharedMemPerMultiprocessor = a.shared_per_sm;
  p->regsPerMultiprocessor = 65536;
  p->sharedMemPerBlockOptin = a.shared_optin;
  p->maxBlocksPerMultiProcessor = 32;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device) {
  if (value == nullptr) return record_error(cudaErrorInvalidValue);
  if (device != 0) return record_error(cudaErrorInvalidDevice);
  const Arch& a = arch();
  switch (attribute) {
    case cudaDevAttrMaxThreadsPerBlock: *value = 1024; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = 48 * 1024; return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *value = a.multiprocessors; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor: *value = a.major; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *value = a.minor; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = static_cast<int>(a.shared_optin); return cudaSuccess;
  }
  return record_error(cudaErrorInvalidValue);
}
