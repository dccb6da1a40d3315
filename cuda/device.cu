// device.cu: the stream, copies and device facts behind device.h (the caching allocator is in
// allocator.cu).
#include "device.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "common.cuh"

namespace steprl::cuda {
namespace {

std::mutex g_stream_mutex;
cudaStream_t g_stream = nullptr;

}  // namespace

Stream stream() {
  std::lock_guard<std::mutex> lock(g_stream_mutex);
  if (g_stream == nullptr) {
    STEPRL_CUDA_CHECK(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking));
#if defined(STEPRL_CUDA_SIM)
    steprl_sim::set_sole_stream(g_stream);  // the simulator fails any launch or copy on another stream
#endif
  }
  return g_stream;
}

namespace {

// Host -> device copies read the caller's memory only during copy_to_device: small ones are
// first copied into a pinned staging block, whose DMA may run later, and an event recorded after
// it says when the block may be reused; large ones wait for their copy. Whatever the source
// (pageable, pinned or registered memory, a std::vector about to be freed, a JS array the caller
// may change next), the caller may reuse it as soon as the call returns, without relying on the
// driver staging pageable memory itself.
class Staging {
 public:
  static constexpr size_t kMaxStaged = size_t{1} << 20;  // larger copies wait instead
  static constexpr size_t kMinBlock = size_t{64} << 10;
  static constexpr size_t kMaxBlocks = 8;

  Staging() { blocks_.reserve(kMaxBlocks); }

  void copy(void* device_dst, const void* host_src, size_t bytes) {
    if (bytes > kMaxStaged) {
      STEPRL_CUDA_CHECK(cudaMemcpyAsync(device_dst, host_src, bytes, cudaMemcpyHostToDevice, stream()));
      STEPRL_CUDA_CHECK(cudaStreamSynchronize(stream()));
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    Block& block = free_block(bytes);
    std::memcpy(block.host, host_src, bytes);
    STEPRL_CUDA_CHECK(cudaMemcpyAsync(device_dst, block.host, bytes, cudaMemcpyHostToDevice, stream()));
    STEPRL_CUDA_CHECK(cudaEventRecord(block.done, stream()));
  }

 private:
  struct Block {
    void* host = nullptr;
    size_t bytes = 0;
    cudaEvent_t done = nullptr;
  };

  // A block of at least `bytes` whose last copy has completed (waiting for one if all are busy).
  Block& free_block(size_t bytes) {
    for (Block& b : blocks_) {
      if (b.bytes < bytes) continue;
      const cudaError_t state = cudaEventQuery(b.done);
      if (state == cudaSuccess) return b;
      if (state != cudaErrorNotReady) STEPRL_CUDA_CHECK(state);
    }
    if (blocks_.size() < kMaxBlocks) {
      blocks_.emplace_back();
      Block& b = blocks_.back();
      STEPRL_CUDA_CHECK(cudaEventCreateWithFlags(&b.done, cudaEventDisableTiming));
      resize(b, bytes);
      return b;
    }
    Block& b = blocks_[next_++ % blocks_.size()];  // all busy: wait for one, round robin
    STEPRL_CUDA_CHECK(cudaEventSynchronize(b.done));
    if (b.bytes < bytes) resize(b, bytes);
    return b;
  }

  static void resize(Block& b, size_t bytes) {
    if (b.host != nullptr) STEPRL_CUDA_CHECK(cudaFreeHost(b.host));
    b.host = nullptr;
    b.bytes = 0;
    size_t size = kMinBlock;
    while (size < bytes) size *= 2;
    STEPRL_CUDA_CHECK(cudaMallocHost(&b.host, size));
    b.bytes = size;
  }

  std::mutex mutex_;
  std::vector<Block> blocks_;  // kMaxBlocks reserved up front: references stay valid
  size_t next_ = 0;
};

Staging& staging() {
  static Staging* instance = new Staging;  // never destroyed, like the allocator
  return *instance;
}

}  // namespace

void copy_to_device(void* device_dst, const void* host_src, size_t bytes) {
  if (bytes == 0) return;
  staging().copy(device_dst, host_src, bytes);
}

void copy_to_host(void* host_dst, const void* device_src, size_t bytes) {
  if (bytes == 0) return;
  STEPRL_CUDA_CHECK(cudaMemcpyAsync(host_dst, device_src, bytes, cudaMemcpyDeviceToHost, stream()));
  STEPRL_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void copy_device_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0 || dst == src) return;
  const auto d = reinterpret_cast<uintptr_t>(dst), s = reinterpret_cast<uintptr_t>(src);
  if (d < s + bytes && s < d + bytes) {
    // cudaMemcpyAsync is undefined for overlapping ranges (the copy engine may read bytes it has
    // already overwritten): go through a temporary, which gives memmove's result, as the CPU's
    // TypedArray.set does. The temporary returns to the cache at once; the copies out of it are
    // queued ahead of any later use on the one stream.
    const std::shared_ptr<DeviceAllocation> temporary = allocate(bytes);
    STEPRL_CUDA_CHECK(cudaMemcpyAsync(temporary->data(), src, bytes, cudaMemcpyDeviceToDevice, stream()));
    STEPRL_CUDA_CHECK(cudaMemcpyAsync(dst, temporary->data(), bytes, cudaMemcpyDeviceToDevice, stream()));
    return;
  }
  STEPRL_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
}

void fill_bytes(void* device_dst, int value, size_t bytes) {
  if (bytes == 0) return;
  STEPRL_CUDA_CHECK(cudaMemsetAsync(device_dst, value, bytes, stream()));
}

namespace {

// One thread per element, grid-stride; a 2-byte pattern never spans two elements (aligned views).
template <typename Word>
__global__ void fill_words_kernel(Word* out, Word pattern, int64_t count) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < count; i += stride) out[i] = pattern;
}

}  // namespace

void fill_words(void* device_dst, uint32_t pattern, int word_bytes, int64_t count) {
  if (count <= 0) return;
  const bool bytes_equal = word_bytes == 1 || (word_bytes == 2 && (pattern & 0xff) == ((pattern >> 8) & 0xff)) ||
                           (word_bytes == 4 && pattern == (pattern & 0xff) * 0x01010101u);
  if (bytes_equal) {  // zeros (and any repeated byte) go through cudaMemset
    fill_bytes(device_dst, static_cast<int>(pattern & 0xff), static_cast<size_t>(count) * word_bytes);
    return;
  }
  const int threads = 256;
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(ceil_div(count, threads), 65535));
  if (word_bytes == 4) {
    STEPRL_LAUNCH((fill_words_kernel<uint32_t>), blocks, threads, 0, stream(), static_cast<uint32_t*>(device_dst),
                  pattern, count);
  } else {
    STEPRL_LAUNCH((fill_words_kernel<uint16_t>), blocks, threads, 0, stream(), static_cast<uint16_t*>(device_dst),
                  static_cast<uint16_t>(pattern), count);
  }
}

uint32_t float32_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

uint32_t bfloat16_bits(float value) {
  const uint32_t bits = float32_bits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return (bits >> 16) | 0x0040u;  // NaN stays NaN
  return (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
}

void synchronize() { STEPRL_CUDA_CHECK(cudaStreamSynchronize(stream())); }

DeviceInfo device_info() {
  DeviceInfo info;
#if defined(STEPRL_CUDA_SIM)
  info.simulated = true;
#endif
  (void)cudaRuntimeGetVersion(&info.runtime_version);
  (void)cudaDriverGetVersion(&info.driver_version);
  const cudaError_t error = cudaGetDeviceCount(&info.device_count);
  if (error != cudaSuccess) {
    (void)cudaGetLastError();
    info.device_count = 0;
    info.error = std::string(cudaGetErrorName(error)) + ": " + cudaGetErrorString(error);
    return info;
  }
  if (info.device_count == 0) {
    info.error = "cudaGetDeviceCount found no CUDA device";
    return info;
  }
  int device = 0;
  cudaDeviceProp p;
  if (cudaGetDevice(&device) == cudaSuccess && cudaGetDeviceProperties(&p, device) == cudaSuccess) {
    info.name = p.name;
    info.compute_major = p.major;
    info.compute_minor = p.minor;
    info.multiprocessors = p.multiProcessorCount;
    info.total_memory = static_cast<int64_t>(p.totalGlobalMem);
  }
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) info.free_memory = static_cast<int64_t>(free_bytes);
  (void)cudaGetLastError();
  return info;
}

std::string js_number(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  if (x == 0.0) return "0";
  char text[40];
  for (int precision = 1; precision <= 17; ++precision) {  // the shortest that reads back as x
    std::snprintf(text, sizeof text, "%.*e", precision - 1, x);
    if (std::strtod(text, nullptr) == x) break;
  }
  // text is [-]d[.ddd]e(+|-)NN: split into sign, digits and the decimal exponent.
  std::string mantissa(text, std::strchr(text, 'e'));
  const int exponent = std::atoi(std::strchr(text, 'e') + 1);
  const bool negative = mantissa[0] == '-';
  std::string digits;
  for (char c : mantissa)
    if (c >= '0' && c <= '9') digits += c;
  std::string out = negative ? "-" : "";
  if (exponent >= -7 + 1 && exponent < 21) {  // JavaScript writes these without an exponent
    if (exponent < 0) {
      out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exponent + 1) {
      out += digits + std::string(static_cast<size_t>(exponent + 1 - static_cast<int>(digits.size())), '0');
    } else {
      out += digits.substr(0, static_cast<size_t>(exponent + 1)) + "." + digits.substr(static_cast<size_t>(exponent + 1));
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  return out + "e" + (exponent < 0 ? "-" : "+") + std::to_string(exponent < 0 ? -exponent : exponent);
}

ErrorIndex::ErrorIndex() : memory_(allocate(sizeof(unsigned long long))) {
  fill_bytes(memory_->data(), 0xff, sizeof(unsigned long long));
}

uint64_t ErrorIndex::read() const {
  unsigned long long value = 0;
  copy_to_host(&value, memory_->data(), sizeof value);
  return value;
}

}  // namespace steprl::cuda
