// sched.h: simulator internals shared by the .cc files (not included by kernels).
//
// A Block is the state of one running thread block: its fibers, a FIFO of runnable fibers, the
// counting __syncthreads barrier, per-warp exchange slots and the first fault. A Worker is one OS
// thread's reusable resources: fiber stacks, the dynamic shared memory window, the Block.
// Scheduling is cooperative: a fiber runs until it blocks (barrier, warp collective) or ends, then
// hands the OS thread straight to the next runnable fiber; when none is left the scheduler context
// resumes and either the block is done or every live thread is stuck (a reported deadlock).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include "fiber.h"
#include "runtime.h"

namespace steprl_sim {

struct WarpState {
  std::uint32_t existing;  // lanes that exist (the last warp of a block may be partial)
  std::uint32_t exited;    // lanes whose thread has returned
  std::uint32_t pending;   // lanes waiting inside warp_exchange
  std::uint32_t mask[32];
  WarpOp op[32];
  std::uint8_t source[32];
  std::uint64_t value[32];
  std::uint64_t result[32];
};

struct Block {
  BlockView view;
  unsigned thread_count = 0;
  unsigned warp_count = 0;
  unsigned live = 0;  // threads that have not returned
  FiberHeader* fibers[kMaxThreadsPerBlock];
  void* saved_sp[kMaxThreadsPerBlock];  // stack pointers of switched-out fibers, kept together
  std::uint16_t ready[kMaxThreadsPerBlock];  // circular FIFO of runnable fiber indices
  unsigned ready_head = 0, ready_size = 0;
  unsigned barrier_arrived = 0;
  int barrier_count = 0;   // __syncthreads_count accumulator
  int barrier_result = 0;  // its value for the threads released by the last barrier
  std::uint16_t barrier_waiters[kMaxThreadsPerBlock];
  WarpState warps[kMaxThreadsPerBlock / 32];
  ErasedKernel kernel = nullptr;
  KernelThunk thunk = nullptr;
  const void* params = nullptr;
  bool faulted = false;
  cudaError_t fault_error = cudaErrorLaunchFailure;  // what the launch returns for this fault
  // Launch limits (launch.cc fills them per launch) and the block's static __shared__ variables
  // registered so far (STEPRL_SIM_STATIC_SHARED: filled with 0xff at their first use per block).
  const char* kernel_name = nullptr;
  std::size_t dynamic_shared_bytes = 0;
  std::size_t shared_limit = 0;  // static + dynamic: 48 KiB, or the opt-in limit after cudaFuncSetAttribute
  bool bounds_checked = false;
  static constexpr unsigned kMaxStaticShared = 64;
  unsigned static_count = 0;
  std::size_t static_bytes = 0;
  const void* static_vars[kMaxStaticShared];
  std::uint64_t order_state = 0;  // splitmix64 state of the run order (0: first-come, first-served)
  char fault[768];
  void* scheduler_sp = nullptr;                 // the OS thread's own context while fibers run
  const void* scheduler_stack_bottom = nullptr;  // for AddressSanitizer's fiber annotations
  std::size_t scheduler_stack_size = 0;
};

// One launch, shared by the OS threads that run its blocks.
struct LaunchState {
  const char* name;
  KernelThunk thunk;
  ErasedKernel kernel;
  const void* params;
  dim3 grid, block;
  std::size_t shared_bytes;
  std::size_t shared_limit;  // static + dynamic shared bytes one block may use
  std::uint64_t order_seed;  // per launch; 0 keeps the fibers in first-come, first-served order
  std::uint64_t total_blocks;
  std::atomic<std::uint64_t> next_block{0};
  std::atomic<bool> failed{false};
  std::mutex fault_mutex;
  std::string fault;
  cudaError_t fault_error = cudaErrorLaunchFailure;
};

// ---- scheduler.cc ---------------------------------------------------------------------------

// Runs blocks of `launch` on this OS thread until none is left or one faulted (recorded in
// launch.fault).
void run_blocks(LaunchState& launch);
bool in_kernel();  // this OS thread is running a block
// STEPRL_SIM_ORDER: "random" (default, seed 1), "random:<seed>" or "fifo". With a seed, each
// block starts its threads, and releases them from every __syncthreads, in an order drawn from
// (seed, launch number, block index), so a missing barrier shows up as a wrong result instead of
// being hidden by thread 0 always running first; the same seed gives the same order.
std::uint64_t order_seed_for_next_launch();

// Static shared memory of `kernel` found over the limit by an earlier launch (0: none), so that
// later launches are refused before they run, as a GPU refuses them (launch.cc).
std::size_t known_static_shared(ErasedKernel kernel);
void note_static_shared(ErasedKernel kernel, std::size_t bytes);
constexpr std::size_t kDefaultSharedLimit = 48 * 1024;  // static + dynamic without the opt-in

// ---- tensor_core.cc --------------------------------------------------------------------------

// Drops the cp.async copies a previous block on this OS thread left queued (called per block).
void reset_async_copies(unsigned thread_count);

// ---- fiber.cc -------------------------------------------------------------------------------

// Reserves (lazily) `count` fiber regions; returns the header of fiber `index`.
struct FiberPool {
  unsigned char* base = nullptr;
  unsigned prepared = 0;  // regions whose guard page is in place
  FiberHeader* get(unsigned index);
  ~FiberPool();
};

// Prepares `fiber` to start at entry(fiber); returns the stack pointer to switch to.
void* fiber_reset(FiberHeader* fiber, void (*entry)(FiberHeader*));
// Saves the running context into *save_sp and resumes `to_sp` on the given stack; `dying` says
// the current context will never be resumed (lets AddressSanitizer free its fake stack).
void context_switch(void** save_sp, void* to_sp, const void* to_stack_bottom,
                    std::size_t to_stack_size, bool dying, Block* block);
// Clears AddressSanitizer poison left on a whole stack by frames that never returned.
void fiber_unpoison_stack(FiberHeader* fiber);
// First call on a fresh fiber: completes the switch that started it.
void context_started(Block* block);
inline std::uintptr_t fiber_region(const FiberHeader* f) {
  return reinterpret_cast<std::uintptr_t>(f) & ~(static_cast<std::uintptr_t>(kFiberRegionBytes) - 1);
}
inline const void* fiber_stack_bottom(const FiberHeader* f) {
  return reinterpret_cast<const void*>(fiber_region(f) + kPageBytes);  // just above the guard page
}
inline std::size_t fiber_stack_size(const FiberHeader* f) {  // the stack ends at the header
  return reinterpret_cast<std::uintptr_t>(f) - fiber_region(f) - kPageBytes;
}

// ---- memory.cc ------------------------------------------------------------------------------

void install_fault_handler();
// Per OS thread: what the SIGSEGV handler reports (kernel name, current fiber).
void set_fault_context(const char* kernel_name, Block* block);
// Checks the canary bytes around every live allocation; describes the first damage into `out`.
bool check_canaries(char* out, std::size_t out_size);
// Dynamic shared memory window of this OS thread: `bytes` usable bytes ending at a guard page.
unsigned char* dynamic_shared_window(std::size_t bytes);
std::size_t max_dynamic_shared_bytes();
bool device_range_valid(const void* pointer, std::size_t bytes);  // inside one live allocation
bool is_device_pointer(const void* pointer);
std::size_t live_device_bytes();

// ---- runtime.cc -----------------------------------------------------------------------------

// The GPU the simulator poses as: STEPRL_SIM_ARCH=sm_80, sm_86, sm_89 or sm_90 (default), read
// once. Its limits are what launches are checked against and what cudaGetDeviceProperties /
// cudaDeviceGetAttribute report.
struct Arch {
  const char* name;
  int major, minor;
  std::size_t shared_optin;  // dynamic + static shared memory one block may opt in to
  std::size_t shared_per_sm;
  int multiprocessors;
};
const Arch& arch();

cudaError_t record_error(cudaError_t error);  // sets the thread's last error, returns it
cudaError_t pending_fault();                  // a kernel fault not yet read by cudaGetLastError
void set_launch_failure(cudaError_t error, const char* message);
bool launch_stream_allowed(cudaStream_t stream, const char* name);  // see set_sole_stream

}  // namespace steprl_sim
