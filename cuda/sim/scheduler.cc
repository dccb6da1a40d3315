// scheduler.cc: runs thread blocks as fibers, cooperatively, on the calling OS thread.
//
// A fiber switches only inside __syncthreads, a warp collective, or when its thread returns, and
// hands the OS thread straight to the next runnable fiber. __syncthreads counts arrivals of all
// threads of the block; a warp collective completes when every lane of its mask has arrived, and
// the last lane to arrive does the exchange for all. If no fiber can run while some have not
// returned, the block is deadlocked (a barrier skipped by some thread, an exited lane in a mask)
// and the launch fails naming the block and what its threads wait for. launch.cc spreads the
// blocks of a launch over OS threads.
#include <pthread.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include "sched.h"

namespace steprl_sim {
namespace {

struct Worker {
  FiberPool pool;
  Block block;
  unsigned prepared_threads = 0;  // fiber headers hold the geometry of this block shape
  dim3 prepared_shape{0, 0, 0};
  bool stacks_dirty = false;      // a faulted block abandoned frames mid-stack
};

thread_local std::unique_ptr<Worker> tl_worker;
thread_local Block* tl_running_block = nullptr;

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Shuffles `n` fiber indices in place (Fisher-Yates) when the block runs in random order.
inline void shuffle_order(Block* b, std::uint16_t* items, unsigned n) {
  if (b->order_state == 0) return;
  for (unsigned i = n; i > 1; --i) {
    const unsigned j = static_cast<unsigned>(splitmix64(b->order_state) % i);
    const std::uint16_t t = items[i - 1];
    items[i - 1] = items[j];
    items[j] = t;
  }
}

inline void push_ready(Block* b, unsigned index) {
  b->ready[(b->ready_head + b->ready_size++) & (kMaxThreadsPerBlock - 1)] = static_cast<std::uint16_t>(index);
}

// Index of the next runnable fiber, or -1.
inline int pop_ready(Block* b) {
  if (b->ready_size == 0) return -1;
  const unsigned index = b->ready[b->ready_head];
  b->ready_head = (b->ready_head + 1) & (kMaxThreadsPerBlock - 1);
  --b->ready_size;
  return static_cast<int>(index);
}

// Leaves `self` (blocked, or finished when `dying`) for the next runnable fiber or, when there is
// none, for the scheduler, which then decides between "block done" and "deadlock".
void switch_away(FiberHeader* self, bool dying) {
  Block* b = self->block;
  void** save = &b->saved_sp[self->linear_tid];
  const int next = pop_ready(b);
  if (next < 0) {
    context_switch(save, b->scheduler_sp, b->scheduler_stack_bottom, b->scheduler_stack_size, dying, b);
    return;
  }
  if (b->ready_size != 0) {  // warm the cache for the fiber after `next`: stack top and header
    const unsigned after = b->ready[b->ready_head];
    __builtin_prefetch(b->saved_sp[after]);
    __builtin_prefetch(static_cast<const char*>(b->saved_sp[after]) + 64);
    __builtin_prefetch(b->fibers[after]);
  }
  const FiberHeader* to = b->fibers[next];
  context_switch(save, b->saved_sp[next], fiber_stack_bottom(to), fiber_stack_size(to), dying, b);
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
  b.view.dynamic_shared = dynamic_shared_window(launch.shared_bytes);  // filled per block (run_block)
  b.kernel = launch.kernel;
  b.thunk = launch.thunk;
  b.params = launch.params;
  b.kernel_name = launch.name;
  b.dynamic_shared_bytes = launch.shared_bytes;
  b.shared_limit = launch.shared_limit;
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
  b.fault_error = cudaErrorLaunchFailure;
  b.bounds_checked = false;
  b.static_count = 0;
  b.static_bytes = 0;
  reset_async_copies(b.thread_count);
  for (unsigned i = 0; i < b.warp_count; ++i) b.warps[i].exited = b.warps[i].pending = 0;
  for (unsigned i = 0; i < b.thread_count; ++i) {
    if (w.stacks_dirty) fiber_unpoison_stack(b.fibers[i]);
    b.saved_sp[i] = fiber_reset(b.fibers[i], fiber_main);
    b.ready[i] = static_cast<std::uint16_t>(i);
  }
  w.stacks_dirty = false;
  // Every block sees fresh garbage in its dynamic shared memory, never the previous block's data.
  std::memset(b.view.dynamic_shared, 0xff, launch.shared_bytes);  // NaN until written
  b.order_state = 0;
  if (launch.order_seed != 0) {
    b.order_state = launch.order_seed ^ (linear * 0xd1b54a32d192ed03ull);
    if (b.order_state == 0) b.order_state = 1;
    shuffle_order(&b, b.ready, b.thread_count);
  }
  b.ready_head = 0;
  b.ready_size = b.thread_count;
  const int first = pop_ready(&b);
  context_switch(&b.scheduler_sp, b.saved_sp[first], fiber_stack_bottom(b.fibers[first]),
                 fiber_stack_size(b.fibers[first]), false, &b);
  if (!b.faulted && b.live != 0) {
    describe_deadlock(b, b.fault, sizeof b.fault);
    b.faulted = true;
  }
  if (b.faulted) w.stacks_dirty = true;
  return !b.faulted;
}

}  // namespace

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
      if (launch.fault.empty()) {
        launch.fault = w.block.fault;
        launch.fault_error = w.block.fault_error;
      }
      launch.failed.store(true);
      break;
    }
  }
  tl_running_block = nullptr;
  set_fault_context(nullptr, nullptr);
}

bool in_kernel() { return tl_running_block != nullptr; }

std::uint64_t order_seed_for_next_launch() {
  static const std::uint64_t base = [] {  // 0: fifo
    const char* order = std::getenv("STEPRL_SIM_ORDER");
    if (order == nullptr || order[0] == '\0' || std::strcmp(order, "random") == 0) return std::uint64_t{1};
    if (std::strcmp(order, "fifo") == 0) return std::uint64_t{0};
    if (std::strncmp(order, "random:", 7) == 0) {
      const std::uint64_t seed = std::strtoull(order + 7, nullptr, 10);
      return seed == 0 ? std::uint64_t{1} : seed;
    }
    std::fprintf(stderr, "steprl cuda-sim: STEPRL_SIM_ORDER=%s is not random, random:<seed> or fifo; using random\n", order);
    return std::uint64_t{1};
  }();
  static std::atomic<std::uint64_t> launches{0};  // launches are serialized; the count makes seeds differ
  if (base == 0) return 0;
  std::uint64_t state = base * 0x9e3779b97f4a7c15ull + launches.fetch_add(1);
  const std::uint64_t seed = splitmix64(state);
  return seed == 0 ? 1 : seed;
}

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
  // The last thread to arrive goes on first; the others follow in arrival or random order.
  shuffle_order(b, b->barrier_waiters, b->barrier_arrived - 1);
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

namespace {
// Ends the block like device_fault, but as a refused launch: `error` instead of a kernel fault, and
// a message without a thread (the check runs before the kernel's own code).
[[noreturn]] void launch_refused(Block* b, FiberHeader* self, cudaError_t error, const char* message) {
  if (!b->faulted) {
    std::snprintf(b->fault, sizeof b->fault, "%s", message);
    b->faulted = true;
    b->fault_error = error;
  }
  context_switch(&b->saved_sp[self->linear_tid], b->scheduler_sp, b->scheduler_stack_bottom,
                 b->scheduler_stack_size, true, b);
  std::abort();
}
}  // namespace

void kernel_bounds(long long max_threads) {
  FiberHeader* self = current_fiber();
  Block* b = self->block;
  if (b->bounds_checked) return;
  b->bounds_checked = true;  // the first thread of the block to start checks for all
  if (max_threads <= 0 || b->thread_count <= static_cast<unsigned long long>(max_threads)) return;
  const dim3 d = b->view.block_dim;
  char message[512];
  std::snprintf(message, sizeof message,
                "blockDim (%u,%u,%u) has %u threads, more than the kernel's __launch_bounds__ maxThreadsPerBlock %lld "
                "(a GPU refuses the launch: its registers were allocated for at most %lld threads)",
                d.x, d.y, d.z, b->thread_count, max_threads, max_threads);
  launch_refused(b, self, cudaErrorLaunchOutOfResources, message);
}

void static_shared(void* variable, std::size_t bytes, const char* name) {
  FiberHeader* self = current_fiber();
  Block* b = self->block;
  for (unsigned i = 0; i < b->static_count; ++i) {
    if (b->static_vars[i] == variable) return;  // seen in this block: another thread's data lives there
  }
  if (b->static_count == Block::kMaxStaticShared) {
    device_fault("more than %u static __shared__ variables in one block", Block::kMaxStaticShared);
  }
  b->static_vars[b->static_count++] = variable;
  std::memset(variable, 0xff, bytes);  // garbage (NaN / -1) until written, whatever the last block left
  b->static_bytes += bytes;
  const char* problem = nullptr;
  std::size_t limit = b->shared_limit;
  if (b->static_bytes > kDefaultSharedLimit) {
    problem = "static shared memory over 48 KiB (ptxas refuses the kernel)";
    limit = kDefaultSharedLimit;
  } else if (b->static_bytes + b->dynamic_shared_bytes > b->shared_limit) {
    problem = b->shared_limit == kDefaultSharedLimit
                  ? "static + dynamic shared memory over the 48 KiB a kernel gets without cudaFuncSetAttribute"
                  : "static + dynamic shared memory over the opt-in limit of the simulated architecture";
  }
  if (problem == nullptr) return;
  note_static_shared(b->kernel, b->static_bytes);
  char message[512];
  std::snprintf(message, sizeof message,
                "%s: %zu static bytes (so far; the last one '%s', %zu bytes) + %zu dynamic bytes > %zu "
                "(STEPRL_SIM_ARCH %s)",
                problem, b->static_bytes, name, bytes, b->dynamic_shared_bytes, limit, arch().name);
  launch_refused(b, self, cudaErrorInvalidValue, message);
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
  context_switch(&b->saved_sp[self->linear_tid], b->scheduler_sp, b->scheduler_stack_bottom,
                 b->scheduler_stack_size, true, b);
  std::abort();
}

}  // namespace steprl_sim
