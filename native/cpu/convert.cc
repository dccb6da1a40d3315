// convert.cc: the conversions of convert.h as plain bit manipulation the compiler vectorizes
// (bf16 widen and narrow are shifts and adds; f16 widen rebiases the exponent and normalizes
// subnormals through one float multiply, which is exact).
#include "convert.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#if !defined(_WIN32)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "parallel.h"

namespace steprl::cpu {
namespace {

constexpr int64_t kGrain = int64_t{1} << 16;  // elements per task: 256 KiB of float32 output

inline uint32_t f16_to_f32_bits(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return sign | 0x7f800000u | (mantissa << 13);  // inf, NaN (payload kept)
  if (exponent != 0) return sign | ((exponent + 112u) << 23) | (mantissa << 13);
  // Zero or subnormal: mantissa * 2^-24, exact in float32.
  const float value = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return sign | bits;
}

inline uint16_t f32_to_bf16_bits(uint32_t x) {
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x007fffffu) != 0) return static_cast<uint16_t>((x >> 16) | 0x0040u);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace

void widen_to_float32_cpu(float* out, const uint16_t* inp, int64_t n, HalfFormat format) {
  parallel_for(task_count(n, kGrain), 1, [&](int64_t begin, int64_t end) {
    const int64_t lo = begin * kGrain, hi = end * kGrain < n ? end * kGrain : n;
    uint32_t* dst = reinterpret_cast<uint32_t*>(out);
    if (format == HalfFormat::bfloat16) {
      for (int64_t i = lo; i < hi; ++i) dst[i] = static_cast<uint32_t>(inp[i]) << 16;
    } else {
      for (int64_t i = lo; i < hi; ++i) dst[i] = f16_to_f32_bits(inp[i]);
    }
  });
}

void narrow_to_bfloat16_cpu(uint16_t* out, const float* inp, int64_t n) {
  parallel_for(task_count(n, kGrain), 1, [&](int64_t begin, int64_t end) {
    const int64_t lo = begin * kGrain, hi = end * kGrain < n ? end * kGrain : n;
    const uint32_t* src = reinterpret_cast<const uint32_t*>(inp);
    for (int64_t i = lo; i < hi; ++i) out[i] = f32_to_bf16_bits(src[i]);
  });
}

#if !defined(_WIN32)
namespace {

// Reads up to `bytes` at `position`; returns how many were read before end of file.
int64_t pread_full(int fd, void* dst, int64_t bytes, int64_t position) {
  int64_t done = 0;
  while (done < bytes) {
    const ssize_t r = ::pread(fd, static_cast<char*>(dst) + done, static_cast<size_t>(bytes - done), static_cast<off_t>(position + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("steprl: reading the checkpoint failed: ") + std::strerror(errno));
    }
    if (r == 0) break;
    done += r;
  }
  return done;
}

// Maps the whole pages of [p, p + bytes) in one call where the kernel can (Linux >= 5.14): fresh
// output memory otherwise costs a page fault per 4 KiB, which dominates a load from the page
// cache. Failure is harmless: the copy then faults the pages in as usual.
void populate(void* p, int64_t bytes) {
#if defined(__linux__)
  constexpr int kPopulateWrite = 23;  // MADV_POPULATE_WRITE, absent from older headers
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(bytes)) / page * page;
  if (end > begin) (void)madvise(reinterpret_cast<void*>(begin), end - begin, kPopulateWrite);
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace

int64_t read_as_float32_cpu(int fd, int64_t position, float* out, int64_t n, StoredFormat format) {
  constexpr int64_t kChunk = int64_t{1} << 20;  // elements per task: 4 MiB of float32 output
  std::atomic<int64_t> first_missing{n};
  parallel_for(task_count(n, kChunk), 1, [&](int64_t begin, int64_t end) {
    thread_local std::vector<uint16_t> stage;  // kept per pool thread: fresh buffers would fault again
    for (int64_t task = begin; task < end; ++task) {
      const int64_t lo = task * kChunk, count = std::min(kChunk, n - lo);
      populate(out + lo, count * 4);
      int64_t got;
      if (format == StoredFormat::float32) {
        got = pread_full(fd, out + lo, count * 4, position + lo * 4) / 4;
      } else {
        stage.resize(static_cast<size_t>(kChunk));
        got = pread_full(fd, stage.data(), count * 2, position + lo * 2) / 2;
        uint32_t* dst = reinterpret_cast<uint32_t*>(out + lo);
        if (format == StoredFormat::bfloat16) {
          for (int64_t i = 0; i < got; ++i) dst[i] = static_cast<uint32_t>(stage[i]) << 16;
        } else {
          for (int64_t i = 0; i < got; ++i) dst[i] = f16_to_f32_bits(stage[i]);
        }
      }
      if (got < count) {
        int64_t seen = first_missing.load();
        while (lo + got < seen && !first_missing.compare_exchange_weak(seen, lo + got)) {}
      }
    }
  });
  return first_missing.load();
}
#endif

}  // namespace steprl::cpu
