// memory.cc: simulated device memory with out-of-bounds detection, and the SIGSEGV reporter.
//
// cudaMalloc maps [guard page | data pages | guard page] and returns a 256-byte aligned pointer
// placed as late as possible, so the allocation ends at most 255 bytes before the trailing guard.
// The slack on both sides is filled with a canary that every launch checks afterwards (catching
// out-of-bounds *writes* that do not reach a guard page); any access reaching a guard page, a
// freed (quarantined) allocation, the dynamic shared memory guard or a fiber stack guard raises
// SIGSEGV, which is reported with the kernel, block and thread before aborting.
// STEPRL_SIM_ALIGN=16 trades CUDA's 256-byte alignment for a slack of at most 15 bytes.
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>

#include "sched.h"

namespace steprl_sim {
namespace {

constexpr std::size_t kMaxDynamicShared = 227 * 1024;  // the largest opt-in limit (sm_90): the window's size
constexpr std::size_t kQuarantineCount = 4096;
constexpr std::uint32_t kCanary = 0xfffa5a5fu;  // a NaN as float and (two words) as double

struct Allocation {
  unsigned char* region;  // head guard page starts here
  std::size_t region_bytes;
  unsigned char* data;    // first readable byte
  unsigned char* data_end;
  unsigned char* user;
  std::size_t bytes;
};

struct Heap {
  std::mutex mutex;
  std::map<std::uintptr_t, Allocation> live;  // keyed by user pointer
  std::deque<Allocation> quarantine;          // freed: PROT_NONE until evicted
  std::size_t live_bytes = 0;
  std::size_t alignment = 256;
  bool fill = true;
};

Heap& heap() {
  static Heap* instance = [] {
    auto* h = new Heap;  // never destroyed: the SIGSEGV handler may read it during exit
    if (const char* a = std::getenv("STEPRL_SIM_ALIGN")) {
      const long v = std::atol(a);
      if (v >= 16 && v <= 4096 && (v & (v - 1)) == 0) h->alignment = static_cast<std::size_t>(v);
    }
    if (const char* f = std::getenv("STEPRL_SIM_FILL")) h->fill = std::strcmp(f, "0") != 0;
    return h;
  }();
  return *instance;
}

inline unsigned char canary_byte(const unsigned char* address) {
  return static_cast<unsigned char>(kCanary >> (8 * (reinterpret_cast<std::uintptr_t>(address) & 3)));
}

void fill_canary(unsigned char* begin, unsigned char* end) {
  for (unsigned char* p = begin; p < end; ++p) *p = canary_byte(p);
}

// First damaged byte in [begin, end), or nullptr.
unsigned char* find_damage(unsigned char* begin, unsigned char* end) {
  for (unsigned char* p = begin; p < end; ++p) {
    if (*p != canary_byte(p)) return p;
  }
  return nullptr;
}

// Per OS thread, for the SIGSEGV handler: what is running, and the guard windows it owns.
thread_local const char* tl_kernel_name = nullptr;
thread_local Block* tl_block = nullptr;
thread_local unsigned char* tl_shared_window = nullptr;  // dynamic shared region of this thread
thread_local std::size_t tl_shared_bytes = 0;            // bytes of that region before its guard

struct sigaction g_previous_segv, g_previous_bus;

int describe_address(std::uintptr_t address, char* out, std::size_t size) {
  Heap& h = heap();
  if (!h.mutex.try_lock()) return std::snprintf(out, size, " (allocation table busy)");
  int n = 0;
  auto describe = [&](const Allocation& a, const char* state) {
    const auto begin = reinterpret_cast<std::uintptr_t>(a.user), end = begin + a.bytes;
    if (address >= end) {
      n = std::snprintf(out, size, ", %zu bytes past the end of a %zu-byte %s allocation at %p",
                        static_cast<std::size_t>(address - end), a.bytes, state, static_cast<void*>(a.user));
    } else if (address < begin) {
      n = std::snprintf(out, size, ", %zu bytes before the start of a %zu-byte %s allocation at %p",
                        static_cast<std::size_t>(begin - address), a.bytes, state, static_cast<void*>(a.user));
    } else {
      n = std::snprintf(out, size, ", inside a %zu-byte %s allocation at %p (use after cudaFree)", a.bytes,
                        state, static_cast<void*>(a.user));
    }
  };
  auto inside = [&](const Allocation& a) {
    const auto r = reinterpret_cast<std::uintptr_t>(a.region);
    return address >= r && address < r + a.region_bytes;
  };
  for (const auto& entry : h.live) {
    if (inside(entry.second)) describe(entry.second, "cudaMalloc");
  }
  for (const auto& a : h.quarantine) {
    if (n == 0 && inside(a)) describe(a, "freed");
  }
  h.mutex.unlock();
  return n;
}

void on_fault(int signal, siginfo_t* info, void* context) {
  const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
  char detail[512] = "";
  int n = describe_address(address, detail, sizeof detail);
  const auto shared_end = reinterpret_cast<std::uintptr_t>(tl_shared_window) + tl_shared_bytes;
  if (n == 0 && tl_shared_window != nullptr && address >= shared_end && address < shared_end + kPageBytes) {
    n = std::snprintf(detail, sizeof detail, ", %zu bytes past the end of the dynamic shared memory",
                      static_cast<std::size_t>(address - shared_end));
  }
  // Which simulated thread: the interrupted stack pointer lies in its fiber region.
  const auto* uc = static_cast<const ucontext_t*>(context);
  const auto sp = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
  const auto region = sp & ~(kFiberRegionBytes - 1);
  const auto first = tl_block != nullptr ? fiber_region(tl_block->fibers[0]) : 0;
  const bool in_fiber = first != 0 && region >= first && region < first + tl_block->thread_count * kFiberRegionBytes;
  const FiberHeader* fiber = in_fiber ? fiber_of_region(region) : nullptr;
  if (in_fiber && n == 0 && address >= region && address < region + kPageBytes) {
    n = std::snprintf(detail, sizeof detail, " (stack overflow: a fiber stack holds %zu KiB)",
                      fiber_stack_size(fiber) / 1024);
  }
  if (tl_kernel_name == nullptr && n == 0) {  // not ours: hand it to whoever was there before
    const struct sigaction& previous = signal == SIGBUS ? g_previous_bus : g_previous_segv;
    if (previous.sa_flags & SA_SIGINFO) {
      previous.sa_sigaction(signal, info, context);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
      previous.sa_handler(signal);
    } else {
      ::signal(signal, SIG_DFL);  // returning re-executes the access and dies the default way
    }
    return;
  }
  char message[1024];
  int m = std::snprintf(message, sizeof message, "steprl cuda-sim: out-of-bounds access at %p%s",
                        info->si_addr, detail);
  if (tl_kernel_name != nullptr) {
    m += std::snprintf(message + m, sizeof message - m, " in kernel %s", tl_kernel_name);
    if (in_fiber) {
      const uint3 t = fiber->thread_idx, b = tl_block->view.block_idx;
      m += std::snprintf(message + m, sizeof message - m, ", thread (%u,%u,%u) of block (%u,%u,%u)", t.x,
                         t.y, t.z, b.x, b.y, b.z);
    }
  } else {
    m += std::snprintf(message + m, sizeof message - m, " in host code");
  }
  m += std::snprintf(message + m, sizeof message - m, "\n");
  if (write(STDERR_FILENO, message, static_cast<std::size_t>(m)) < 0) {}
  ::signal(SIGABRT, SIG_DFL);
  std::abort();
}

void install_alternate_stack() {
  // A stack overflow faults on the fiber's guard page; the handler then needs another stack.
  stack_t current;
  if (sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_DISABLE) == 0) return;
  const std::size_t bytes = 64 * 1024;
  void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return;
  stack_t fresh{};
  fresh.ss_sp = memory;
  fresh.ss_size = bytes;
  sigaltstack(&fresh, nullptr);  // kept for the thread's lifetime
}

}  // namespace

void install_fault_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &g_previous_segv);
    sigaction(SIGBUS, &action, &g_previous_bus);
  });
}

void set_fault_context(const char* kernel_name, Block* block) {
  static thread_local bool has_alternate_stack = false;
  if (!has_alternate_stack) {
    install_alternate_stack();
    has_alternate_stack = true;
  }
  tl_kernel_name = kernel_name;
  tl_block = block;
}

std::size_t max_dynamic_shared_bytes() { return arch().shared_optin; }

unsigned char* dynamic_shared_window(std::size_t bytes) {
  if (tl_shared_window == nullptr) {
    const std::size_t usable = (kMaxDynamicShared + kPageBytes - 1) & ~(kPageBytes - 1);
    void* memory = mmap(nullptr, usable + kPageBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
      std::fprintf(stderr, "steprl cuda-sim: cannot map dynamic shared memory\n");
      std::abort();
    }
    tl_shared_window = static_cast<unsigned char*>(memory);
    tl_shared_bytes = usable;
    mprotect(tl_shared_window + usable, kPageBytes, PROT_NONE);
  }
  const std::size_t rounded = (bytes + 15) & ~std::size_t{15};  // 16-byte aligned base
  return tl_shared_window + tl_shared_bytes - rounded;
}

bool check_canaries(char* out, std::size_t out_size) {
  Heap& h = heap();
  std::lock_guard<std::mutex> lock(h.mutex);
  for (auto& entry : h.live) {
    Allocation& a = entry.second;
    unsigned char* const end = a.user + a.bytes;
    unsigned char* bad = find_damage(end, a.data_end);
    if (bad == nullptr) bad = find_damage(a.data, a.user);
    if (bad == nullptr) continue;
    if (bad >= end) {
      std::snprintf(out, out_size, "byte %zu past the end of a %zu-byte allocation at %p was overwritten",
                    static_cast<std::size_t>(bad - end), a.bytes, static_cast<void*>(a.user));
    } else {
      std::snprintf(out, out_size, "byte %zu before the start of a %zu-byte allocation at %p was overwritten",
                    static_cast<std::size_t>(a.user - bad), a.bytes, static_cast<void*>(a.user));
    }
    fill_canary(a.data, a.user);  // report each damage once
    fill_canary(end, a.data_end);
    return false;
  }
  return true;
}

// Device allocation containing [pointer, pointer + bytes), or nullptr. Caller holds the mutex.
static const Allocation* find_allocation(const void* pointer, std::size_t bytes) {
  Heap& h = heap();
  const auto address = reinterpret_cast<std::uintptr_t>(pointer);
  auto it = h.live.upper_bound(address);
  if (it == h.live.begin()) return nullptr;
  --it;
  const Allocation& a = it->second;
  const auto begin = reinterpret_cast<std::uintptr_t>(a.user);
  if (address < begin || address - begin > a.bytes || bytes > a.bytes - (address - begin)) return nullptr;
  return &a;
}

bool device_range_valid(const void* pointer, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(heap().mutex);
  return find_allocation(pointer, bytes) != nullptr;
}

bool is_device_pointer(const void* pointer) {
  std::lock_guard<std::mutex> lock(heap().mutex);
  return find_allocation(pointer, 0) != nullptr;
}

std::size_t live_device_bytes() {
  std::lock_guard<std::mutex> lock(heap().mutex);
  return heap().live_bytes;
}

}  // namespace steprl_sim

using steprl_sim::kPageBytes;

cudaError_t cudaMalloc(void** pointer, std::size_t bytes) {
  using namespace steprl_sim;
  if (pointer == nullptr) return record_error(cudaErrorInvalidValue);
  *pointer = nullptr;
  if (bytes == 0) return cudaSuccess;
  install_fault_handler();
  Heap& h = heap();
  const std::size_t span = (bytes + h.alignment - 1) & ~(h.alignment - 1);
  const std::size_t data_bytes = (span + kPageBytes - 1) & ~(kPageBytes - 1);
  if (span < bytes || data_bytes > (std::size_t{1} << 46)) return record_error(cudaErrorMemoryAllocation);
  const std::size_t region_bytes = data_bytes + 2 * kPageBytes;
  void* region = mmap(nullptr, region_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (region == MAP_FAILED) return record_error(cudaErrorMemoryAllocation);
  Allocation a;
  a.region = static_cast<unsigned char*>(region);
  a.region_bytes = region_bytes;
  a.data = a.region + kPageBytes;
  a.data_end = a.data + data_bytes;
  a.user = a.data_end - span;
  a.bytes = bytes;
  if (mprotect(a.data, data_bytes, PROT_READ | PROT_WRITE) != 0) {
    munmap(region, region_bytes);
    return record_error(cudaErrorMemoryAllocation);
  }
  fill_canary(a.data, a.user);
  fill_canary(a.user + bytes, a.data_end);
  if (h.fill) std::memset(a.user, 0xff, bytes);  // NaN (or -1) until written: stale reads show
  std::lock_guard<std::mutex> lock(h.mutex);
  h.live.emplace(reinterpret_cast<std::uintptr_t>(a.user), a);
  h.live_bytes += bytes;
  *pointer = a.user;
  return cudaSuccess;
}

cudaError_t cudaFree(void* pointer) {
  using namespace steprl_sim;
  if (pointer == nullptr) return cudaSuccess;
  Heap& h = heap();
  std::lock_guard<std::mutex> lock(h.mutex);
  auto it = h.live.find(reinterpret_cast<std::uintptr_t>(pointer));
  if (it == h.live.end()) return record_error(cudaErrorInvalidValue);
  const Allocation a = it->second;
  h.live.erase(it);
  h.live_bytes -= a.bytes;
  // Replace the pages with inaccessible ones: frees the memory, and a later access faults.
  mmap(a.data, static_cast<std::size_t>(a.data_end - a.data), PROT_NONE,
       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  h.quarantine.push_back(a);
  if (h.quarantine.size() > kQuarantineCount) {
    munmap(h.quarantine.front().region, h.quarantine.front().region_bytes);
    h.quarantine.pop_front();
  }
  return cudaSuccess;
}
