// scheduler.cc: runs a kernel launch: blocks over a pool of OS threads, threads as fibers.
//
// Each OS thread (the launching host thread plus STEPRL_SIM_THREADS-1 helpers, created on the
// first launch) takes whole blocks from an atomic counter and runs a block's threads as fibers on
// its own stacks, cooperatively: a fiber switches only inside __syncthreads, a warp collective or
// when it returns. __syncthreads counts arrivals of all threads of the block; warp collectives
// complete when every lane of their mask has arrived, and the last lane to arrive does the
// exchange for all. If no fiber can run while some have not returned, the block is deadlocked
// (a barrier skipped by some thread, an exited lane in a mask) and the launch fails naming it.
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sched.h"

namespace steprl_sim {
namespace {

constexpr std::size_t kDefaultMaxDynamicShared = 48 * 1024;

struct Worker {
  FiberPool pool;
  Block block;
  unsigned prepared_threads = 0;  // fiber headers hold the geometry of this block shape
  dim3 prepared_shape{0, 0, 0};
  bool stacks_dirty = false;      // a faulted block abandoned frames mid-stack
};

thread_local std::unique_ptr<Worker> tl_worker;
thread_local Block* tl_running_block = nullptr;

struct LaunchState {
  const char* name;
  KernelThunk thunk;
  ErasedKernel kernel;
  const void* params;
  dim3 grid, block;
  std::size_t shared_bytes;
  std::uint64_t total_blocks;
  std::atomic<std::uint64_t> next_block{0};
  std::atomic<bool> failed{false};
  std::mutex fault_mutex;
  std::string fault;
};

inline void push_ready(Block* b, unsigned index) {
  b->ready[(b->ready_head + b->ready_size++) & (kMaxThreadsPerBlock - 1)] = static_cast<std::uint16_t>(index);
}

inline FiberHeader* pop_ready(Block* b) {
  if (b->ready_size == 0) return nullptr;
  const unsigned index = b->ready[b->ready_head];
  b->ready_head = (b->ready_head + 1) & (kMaxThreadsPerBlock - 1);
  --b->ready_size;
  return b->fibers[index];
}

// Leaves `self` (blocked, or finished when `dying`) for the next runnable fiber or, when there is
// none, for the scheduler, which then decides between "block done" and "deadlock".
void switch_away(FiberHeader* self, bool dying) {
  Block* b = self->block;
  if (FiberHeader* next = pop_ready(b)) {
    context_switch(&self->saved_sp, next->saved_sp, fiber_stack_bottom(next), kFiberStackBytes, dying, b);
  } else {
    context_switch(&self->saved_sp, b->scheduler_sp, b->scheduler_stack_bottom, b->scheduler_stack_size,
                   dying, b);
  }
}

void fiber_main(FiberHeader* self) {
  context_started(self->block);
  Block* b = self->block;
  b->thunk(b->kernel, b->params);
  --b->live;
  b->warps[self->warp].exited |= 1u << self->lane;
  switch_away(self, true);
  std::abort();  // a finished fiber is never resumed
}

void describe_deadlock(const Block& b, char* out, std::size_t size) {
  unsigned in_warp = 0;
  int first_warp = -1;
  for (unsigned w = 0; w < b.warp_count; ++w) {
    in_warp += static_cast<unsigned>(__builtin_popcount(b.warps[w].pending));
    if (first_warp < 0 && b.warps[w].pending != 0) first_warp = static_cast<int>(w);
  }
  const uint3 idx = b.view.block_idx;
  int n = std::snprintf(out, size,
                        "block (%u,%u,%u) deadlocked: %u of %u threads wait at __syncthreads, %u wait "
                        "in a warp collective (__shfl*_sync/__syncwarp/__ballot_sync), %u have returned",
                        idx.x, idx.y, idx.z, b.barrier_arrived, b.thread_count, in_warp,
                        b.thread_count - b.live);
  if (first_warp >= 0 && n > 0 && static_cast<std::size_t>(n) < size) {
    const WarpState& w = b.warps[first_warp];
    const unsigned lane = static_cast<unsigned>(__builtin_ctz(w.pending));
    n += std::snprintf(out + n, size - n, "; warp %d: lanes 0x%08x wait with mask 0x%08x, lanes 0x%08x returned",
                       first_warp, w.pending, w.mask[lane], w.exited);
  }
  if (n > 0 && static_cast<std::size_t>(n) < size) {
    std::snprintf(out + n, size - n,
                  " (every thread of a block must reach each __syncthreads, and every lane named in a "
                  "*_sync mask must reach the same collective)");
  }
}

void prepare_worker(Worker& w, const LaunchState& launch) {
  Block& b = w.block;
  const dim3 shape = launch.block;
  const unsigned n = shape.x * shape.y * shape.z;
  if (w.prepared_threads != n || w.prepared_shape.x != shape.x || w.prepared_shape.y != shape.y) {
    for (unsigned i = 0; i < n; ++i) {
      FiberHeader* f = w.pool.get(i);
      f->thread_idx = uint3{i % shape.x, (i / shape.x) % shape.y, i / (shape.x * shape.y)};
      f->linear_tid = i;
      f->lane = i % 32;
      f->warp = i / 32;
      f->view = &b.view;
      f->block = &b;
      b.fibers[i] = f;
    }
    w.prepared_threads = n;
    w.prepared_shape = shape;
  }
  b.thread_count = n;
  b.warp_count = (n + 31) / 32;
  for (unsigned i = 0; i < b.warp_count; ++i) {
    const unsigned lanes = i + 1 < b.warp_count || n % 32 == 0 ? 32 : n % 32;
    b.warps[i].existing = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
  }
  b.view.block_dim = shape;
  b.view.grid_dim = launch.grid;
  b.view.dynamic_shared = dynamic_shared_window(launch.shared_bytes);
  std::memset(b.view.dynamic_shared, 0xff, launch.shared_bytes);  // NaN until written
  b.kernel = launch.kernel;
  b.thunk = launch.thunk;
  b.params = launch.params;
  if (b.scheduler_stack_size == 0) {  // only AddressSanitizer's annotations read these
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void* bottom = nullptr;
      pthread_attr_getstack(&attr, &bottom, &b.scheduler_stack_size);
      b.scheduler_stack_bottom = bottom;
      pthread_attr_destroy(&attr);
    }
  }
}

// Runs one block to completion on this OS thread; false (with b.fault set) on a kernel fault.
bool run_block(Worker& w, const LaunchState& launch, std::uint64_t linear) {
  Block& b = w.block;
  const std::uint64_t gx = launch.grid.x, gy = launch.grid.y;
  b.view.block_idx = uint3{static_cast<unsigned>(linear % gx), static_cast<unsigned>(linear / gx % gy),
                           static_cast<unsigned>(linear / (gx * gy))};
  b.live = b.thread_count;
  b.barrier_arrived = 0;
  b.barrier_count = 0;
  b.faulted = false;
  for (unsigned i = 0; i < b.warp_count; ++i) b.warps[i].exited = b.warps[i].pending = 0;
  for (unsigned i = 0; i < b.thread_count; ++i) {
    if (w.stacks_dirty) fiber_unpoison_stack(b.fibers[i]);
    fiber_reset(b.fibers[i], fiber_main);
    b.ready[i] = static_cast<std::uint16_t>(i);
  }
  w.stacks_dirty = false;
  b.ready_head = 0;
  b.ready_size = b.thread_count;
  FiberHeader* first = pop_ready(&b);
  context_switch(&b.scheduler_sp, first->saved_sp, fiber_stack_bottom(first), kFiberStackBytes, false, &b);
  if (!b.faulted && b.live != 0) {
    describe_deadlock(b, b.fault, sizeof b.fault);
    b.faulted = true;
  }
  if (b.faulted) w.stacks_dirty = true;
  return !b.faulted;
}

void run_blocks(LaunchState& launch) {
  if (!tl_worker) tl_worker.reset(new Worker);
  Worker& w = *tl_worker;
  prepare_worker(w, launch);
  set_fault_context(launch.name, &w.block);
  tl_running_block = &w.block;
  while (!launch.failed.load(std::memory_order_relaxed)) {
    const std::uint64_t i = launch.next_block.fetch_add(1, std::memory_order_relaxed);
    if (i >= launch.total_blocks) break;
    if (!run_block(w, launch, i)) {
      std::lock_guard<std::mutex> lock(launch.fault_mutex);
      if (launch.fault.empty()) launch.fault = w.block.fault;
      launch.failed.store(true);
      break;
    }
  }
  tl_running_block = nullptr;
  set_fault_context(nullptr, nullptr);
}

class Pool {
 public:
  explicit Pool(unsigned helpers) {
    for (unsigned i = 0; i < helpers; ++i) std::thread([this] { loop(); }).detach();
    helpers_ = helpers;
  }
  void run(LaunchState& launch) {
    const bool parallel = helpers_ > 0 && launch.total_blocks > 1;
    if (parallel) {
      std::lock_guard<std::mutex> lock(mutex_);
      current_ = &launch;
      remaining_ = helpers_;
      ++generation_;
      work_.notify_all();
    }
    run_blocks(launch);
    if (parallel) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return remaining_ == 0; });
      current_ = nullptr;
    }
  }

 private:
  void loop() {
    std::uint64_t seen = 0;
    for (;;) {
      LaunchState* launch;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        work_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        launch = current_;
      }
      run_blocks(*launch);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--remaining_ == 0) done_.notify_all();
    }
  }
  unsigned helpers_ = 0;
  std::mutex mutex_;
  std::condition_variable work_, done_;
  LaunchState* current_ = nullptr;
  std::uint64_t generation_ = 0;
  unsigned remaining_ = 0;
};

// Created on the first launch and never destroyed: helper threads must outlive static destructors.
Pool& pool() {
  static Pool* instance = [] {
    unsigned threads = std::thread::hardware_concurrency();
    if (const char* env = std::getenv("STEPRL_SIM_THREADS")) threads = static_cast<unsigned>(std::atoi(env));
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    return new Pool(threads - 1);
  }();
  return *instance;
}

std::mutex g_launch_mutex;      // one launch at a time, from any number of host threads
std::mutex g_attribute_mutex;
std::map<ErasedKernel, std::size_t>* g_max_dynamic_shared = nullptr;

std::size_t max_dynamic_shared_for(ErasedKernel kernel) {
  std::lock_guard<std::mutex> lock(g_attribute_mutex);
  if (g_max_dynamic_shared == nullptr) return kDefaultMaxDynamicShared;
  auto it = g_max_dynamic_shared->find(kernel);
  return it == g_max_dynamic_shared->end() ? kDefaultMaxDynamicShared : it->second;
}

}  // namespace

void block_barrier(FiberHeader* self) { (void)block_barrier_count(self, 0); }

int block_barrier_count(FiberHeader* self, int predicate) {
  Block* b = self->block;
  b->barrier_count += predicate;
  b->barrier_waiters[b->barrier_arrived++] = static_cast<std::uint16_t>(self->linear_tid);
  if (b->barrier_arrived < b->thread_count) {
    switch_away(self, false);
    return b->barrier_result;
  }
  b->barrier_result = b->barrier_count;
  b->barrier_count = 0;
  for (unsigned i = 0; i + 1 < b->barrier_arrived; ++i) push_ready(b, b->barrier_waiters[i]);
  b->barrier_arrived = 0;
  return b->barrier_result;
}

std::uint64_t warp_exchange(FiberHeader* self, unsigned mask, WarpOp op, std::uint64_t value, unsigned source) {
  Block* b = self->block;
  WarpState& w = b->warps[self->warp];
  const unsigned lane = self->lane;
  const std::uint32_t bit = 1u << lane, group = mask & w.existing;
  if ((group & bit) == 0) {
    device_fault("lane %u of warp %u calls a warp collective whose mask 0x%08x does not include it",
                 lane, self->warp, mask);
  }
  w.mask[lane] = mask;
  w.op[lane] = op;
  w.value[lane] = value;
  w.source[lane] = static_cast<std::uint8_t>(source);
  w.pending |= bit;
  if ((w.pending & group) != group) {
    switch_away(self, false);
    return w.result[lane];
  }
  for (std::uint32_t rest = group; rest != 0; rest &= rest - 1) {
    const unsigned l = static_cast<unsigned>(__builtin_ctz(rest));
    if (w.mask[l] != mask) {
      switch_away(self, false);  // lane l waits in another group; completes there or deadlocks
      return w.result[lane];
    }
    if (w.op[l] != op) device_fault("lanes %u and %u of warp %u meet in different warp collectives", lane, l, self->warp);
  }
  std::uint64_t ballot = 0;
  if (op == WarpOp::kBallot) {
    for (std::uint32_t rest = group; rest != 0; rest &= rest - 1) {
      const unsigned l = static_cast<unsigned>(__builtin_ctz(rest));
      if (w.value[l] != 0) ballot |= 1u << l;
    }
  }
  w.pending &= ~group;
  for (std::uint32_t rest = group; rest != 0; rest &= rest - 1) {
    const unsigned l = static_cast<unsigned>(__builtin_ctz(rest));
    if (op == WarpOp::kShuffle) {
      const unsigned from = w.source[l];
      w.result[l] = (group >> from) & 1u ? w.value[from] : ~std::uint64_t{0};  // absent source: NaN bits
    } else {
      w.result[l] = ballot;
    }
    if (l != lane) push_ready(b, self->warp * 32 + l);
  }
  return w.result[lane];
}

unsigned warp_active_mask(FiberHeader* self) {
  const WarpState& w = self->block->warps[self->warp];
  return w.existing & ~w.exited;
}

void device_fault(const char* format, ...) {
  va_list args;
  va_start(args, format);
  if (tl_running_block == nullptr) {  // not inside a kernel: nothing to unwind to
    std::fprintf(stderr, "steprl cuda-sim: device fault outside a kernel: ");
    std::vfprintf(stderr, format, args);
    std::fputc('\n', stderr);
    std::abort();
  }
  FiberHeader* self = current_fiber();
  Block* b = self->block;
  if (!b->faulted) {
    const uint3 t = self->thread_idx, k = b->view.block_idx;
    int n = std::snprintf(b->fault, sizeof b->fault, "thread (%u,%u,%u) of block (%u,%u,%u): ", t.x, t.y,
                          t.z, k.x, k.y, k.z);
    std::vsnprintf(b->fault + n, sizeof b->fault - n, format, args);
    b->faulted = true;
  }
  va_end(args);
  context_switch(&self->saved_sp, b->scheduler_sp, b->scheduler_stack_bottom, b->scheduler_stack_size, true, b);
  std::abort();
}

cudaError_t set_max_dynamic_shared(ErasedKernel kernel, int bytes) {
  if (kernel == nullptr || bytes < 0 || static_cast<std::size_t>(bytes) > max_dynamic_shared_bytes()) {
    return record_error(cudaErrorInvalidValue);
  }
  std::lock_guard<std::mutex> lock(g_attribute_mutex);
  if (g_max_dynamic_shared == nullptr) g_max_dynamic_shared = new std::map<ErasedKernel, std::size_t>;
  (*g_max_dynamic_shared)[kernel] = static_cast<std::size_t>(bytes);
  return cudaSuccess;
}

cudaError_t launch_erased(const char* name, ErasedKernel kernel, KernelThunk thunk, const void* params,
                          dim3 grid, dim3 block, std::size_t shared_bytes, cudaStream_t stream) {
  (void)stream;  // launches are synchronous, so every stream is trivially in order
  char message[1024];
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  const char* problem = nullptr;
  cudaError_t error = cudaErrorInvalidConfiguration;
  if (block.x == 0 || block.y == 0 || block.z == 0 || grid.x == 0 || grid.y == 0 || grid.z == 0) {
    problem = "a zero grid or block dimension";
  } else if (block.x > 1024 || block.y > 1024 || block.z > 64 || threads > kMaxThreadsPerBlock) {
    problem = "blockDim over the limits (x, y <= 1024, z <= 64, x*y*z <= 1024)";
  } else if (grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) {
    problem = "gridDim over the limits (x < 2^31, y, z <= 65535)";
  } else if (shared_bytes > max_dynamic_shared_for(kernel)) {
    problem = "more dynamic shared memory than allowed (48 KiB unless raised with cudaFuncSetAttribute)";
    error = cudaErrorInvalidValue;
  } else if (tl_running_block != nullptr) {
    problem = "a launch from inside a kernel (dynamic parallelism is not simulated)";
    error = cudaErrorNotSupported;
  }
  if (problem != nullptr) {
    std::snprintf(message, sizeof message,
                  "kernel %s: invalid launch with gridDim (%u,%u,%u), blockDim (%u,%u,%u), %zu dynamic "
                  "shared bytes: %s", name, grid.x, grid.y, grid.z, block.x, block.y, block.z,
                  shared_bytes, problem);
    set_launch_failure(error, message);
    return error;
  }
  install_fault_handler();
  LaunchState launch;
  launch.name = name;
  launch.thunk = thunk;
  launch.kernel = kernel;
  launch.params = params;
  launch.grid = grid;
  launch.block = block;
  launch.shared_bytes = shared_bytes;
  launch.total_blocks = 1ull * grid.x * grid.y * grid.z;
  std::lock_guard<std::mutex> lock(g_launch_mutex);
  pool().run(launch);
  if (launch.failed.load()) {
    std::snprintf(message, sizeof message, "kernel %s: %s", name, launch.fault.c_str());
    set_launch_failure(cudaErrorLaunchFailure, message);
    return cudaErrorLaunchFailure;
  }
  char damage[512];
  if (!check_canaries(damage, sizeof damage)) {
    std::snprintf(message, sizeof message, "kernel %s wrote out of bounds: %s", name, damage);
    set_launch_failure(cudaErrorIllegalAddress, message);
    return cudaErrorIllegalAddress;
  }
  return cudaSuccess;
}

}  // namespace steprl_sim
