// fiber.cc: stacks and the context switch under the simulator's fibers (x86-64 System V).
//
// A switch saves the six callee-saved registers on the current stack, stores the stack pointer
// and loads another one: a few nanoseconds, against ~1 µs for swapcontext (which also makes a
// sigprocmask system call). The MXCSR / x87 control words are not switched: every fiber of an OS
// thread shares one floating-point environment, which kernels never change. When built with
// -fsanitize=address the switches carry AddressSanitizer's fiber annotations.
#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>

#include "sched.h"

#if defined(__SANITIZE_ADDRESS__)
#define STEPRL_SIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STEPRL_SIM_ASAN 1
#endif
#endif
#if STEPRL_SIM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if !defined(__x86_64__) || !defined(__linux__)
#error "the steprl CUDA simulator's context switch is written for x86-64 Linux"
#endif

extern "C" void steprl_sim_swap(void** save_sp, void* load_sp);
extern "C" void steprl_sim_trampoline();

// steprl_sim_swap(save_sp = rdi, load_sp = rsi). The trampoline is where a fresh fiber's first
// `ret` lands: r12 holds the FiberHeader*, r13 the entry function; it never returns.
__asm__(R"(
  .text
  .globl steprl_sim_swap
  .hidden steprl_sim_swap
  .type steprl_sim_swap, @function
  .p2align 4
steprl_sim_swap:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size steprl_sim_swap, .-steprl_sim_swap

  .globl steprl_sim_trampoline
  .hidden steprl_sim_trampoline
  .type steprl_sim_trampoline, @function
  .p2align 4
steprl_sim_trampoline:
  .cfi_startproc
  .cfi_undefined rip
  movq %r12, %rdi
  andq $-16, %rsp
  callq *%r13
  ud2
  .cfi_endproc
  .size steprl_sim_trampoline, .-steprl_sim_trampoline
)");

namespace steprl_sim {

namespace {
constexpr unsigned kPoolFibers = kMaxThreadsPerBlock;
constexpr std::size_t kPoolBytes = (kPoolFibers + 1) * kFiberRegionBytes;  // +1 for alignment

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "steprl cuda-sim: %s\n", what);
  std::abort();
}
}  // namespace

FiberHeader* FiberPool::get(unsigned index) {
  if (base == nullptr) {
    void* raw = mmap(nullptr, kPoolBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED) die("cannot reserve fiber stacks (mmap failed)");
    auto address = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t aligned = (address + kFiberRegionBytes - 1) & ~(kFiberRegionBytes - 1);
    const std::uintptr_t end = aligned + kPoolFibers * kFiberRegionBytes;
    if (aligned > address) munmap(raw, aligned - address);  // keep only the aligned regions
    if (address + kPoolBytes > end) munmap(reinterpret_cast<void*>(end), address + kPoolBytes - end);
    base = reinterpret_cast<unsigned char*>(aligned);
  }
  // Guard pages are placed lazily: a launch of 256 threads only pays for 256 mprotect calls once.
  for (; prepared <= index; ++prepared) {
    unsigned char* region = base + static_cast<std::size_t>(prepared) * kFiberRegionBytes;
    if (mprotect(region, kPageBytes, PROT_NONE) != 0) die("cannot protect a fiber stack guard page");
  }
  return fiber_of_region(reinterpret_cast<std::uintptr_t>(base) + static_cast<std::size_t>(index) * kFiberRegionBytes);
}

FiberPool::~FiberPool() {
  if (base != nullptr) munmap(base, kPoolFibers * kFiberRegionBytes);
}

void* fiber_reset(FiberHeader* fiber, void (*entry)(FiberHeader*)) {
  auto* top = reinterpret_cast<void**>(fiber);  // the stack grows down from its header
#if STEPRL_SIM_ASAN
  // Frames abandoned by a finished fiber leave redzone poison behind; clear the part of the
  // stack a new thread will use first (faulted blocks clear whole stacks, see scheduler.cc).
  __asan_unpoison_memory_region(reinterpret_cast<unsigned char*>(top) - 8 * kPageBytes, 8 * kPageBytes);
#endif
  void** sp = top - 8;
  sp[0] = nullptr;                                                      // r15
  sp[1] = nullptr;                                                      // r14
  sp[2] = reinterpret_cast<void*>(entry);                               // r13
  sp[3] = fiber;                                                        // r12
  sp[4] = nullptr;                                                      // rbx
  sp[5] = nullptr;                                                      // rbp: ends frame chains
  sp[6] = reinterpret_cast<void*>(&steprl_sim_trampoline);              // return address
  sp[7] = nullptr;
  return sp;
}

void fiber_unpoison_stack(FiberHeader* fiber) {
#if STEPRL_SIM_ASAN
  __asan_unpoison_memory_region(fiber_stack_bottom(fiber), fiber_stack_size(fiber));
#else
  (void)fiber;
#endif
}

void context_switch(void** save_sp, void* to_sp, const void* to_stack_bottom,
                    std::size_t to_stack_size, bool dying, Block* block) {
  (void)block;
#if STEPRL_SIM_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(dying ? nullptr : &fake_stack, to_stack_bottom, to_stack_size);
  steprl_sim_swap(save_sp, to_sp);
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#else
  (void)to_stack_bottom;
  (void)to_stack_size;
  (void)dying;
  steprl_sim_swap(save_sp, to_sp);
#endif
}

void context_started(Block* block) {
  (void)block;
#if STEPRL_SIM_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}

}  // namespace steprl_sim
