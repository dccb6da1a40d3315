// fiber.h: the per-thread state of a simulated CUDA thread, reachable from device code.
//
// Each simulated thread is a fiber whose stack lives in a kFiberRegionBytes-aligned region:
// [PROT_NONE guard page | stack ... | FiberHeader | rest of the header area]. The header (and with
// it the stack top) sits at a per-region offset, a "colour", so that the hot lines of hundreds of
// fibers do not all fall into the same cache sets. Device code finds its own fiber by masking its
// stack pointer, so threadIdx & co. cost a few ALU operations and one load, no TLS lookup.
// Everything a kernel may touch (threadIdx, blockIdx, blockDim, gridDim, dynamic shared memory)
// is read from here; the scheduler internals live in sched.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "types.h"

namespace steprl_sim {

constexpr std::size_t kFiberRegionBytes = 128 * 1024;  // must be a power of two
constexpr std::size_t kPageBytes = 4096;
constexpr std::size_t kHeaderAreaBytes = 32 * 1024;   // headers are spread over this much
constexpr std::size_t kMinFiberStackBytes = kFiberRegionBytes - kPageBytes - kHeaderAreaBytes;
constexpr unsigned kMaxThreadsPerBlock = 1024;

struct Block;  // sched.h

// What a kernel sees of its block and launch; owned by the OS worker that runs the block.
struct BlockView {
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
  unsigned char* dynamic_shared;
};

struct alignas(64) FiberHeader {
  uint3 thread_idx;
  unsigned linear_tid;
  unsigned lane;
  unsigned warp;
  BlockView* view;
  Block* block;
};
static_assert(sizeof(FiberHeader) == 64, "a fiber header is one cache line");

// The header of the fiber region starting at `region` (colour = region index modulo 512).
inline __attribute__((always_inline)) FiberHeader* fiber_of_region(std::uintptr_t region) {
  const std::uintptr_t colour = (region / kFiberRegionBytes) % (kHeaderAreaBytes / sizeof(FiberHeader));
  return reinterpret_cast<FiberHeader*>(region + kFiberRegionBytes - kHeaderAreaBytes + colour * sizeof(FiberHeader));
}

inline __attribute__((always_inline)) FiberHeader* current_fiber() {
  std::uintptr_t sp;
#if defined(__x86_64__)
  __asm__("mov %%rsp, %0" : "=r"(sp));
#else
  sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
#endif
  return fiber_of_region(sp & ~(static_cast<std::uintptr_t>(kFiberRegionBytes) - 1));
}

// Entry points device code calls into (scheduler.cc). They may switch to another fiber.
void block_barrier(FiberHeader* self);
int block_barrier_count(FiberHeader* self, int predicate);  // __syncthreads_count

enum class WarpOp : std::uint8_t { kSync, kShuffle, kBallot, kMatrix };  // kMatrix: tensor_core.cc
// Exchange among the lanes of `mask` (ANDed with the lanes that exist): every lane of the mask
// must arrive with the same mask. kShuffle returns the value deposited by lane `source` (all-ones
// bits if that lane does not take part), kBallot the bitmask of lanes whose value was non-zero.
std::uint64_t warp_exchange(FiberHeader* self, unsigned mask, WarpOp op, std::uint64_t value,
                            unsigned source);
unsigned warp_active_mask(FiberHeader* self);

// Ends the current block with a kernel fault (like a GPU trap); never returns.
[[noreturn]] void device_fault(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace steprl_sim
