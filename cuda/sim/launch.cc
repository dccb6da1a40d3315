// launch.cc: a kernel launch: checks the configuration, spreads the blocks over OS threads.
//
// The launching host thread and STEPRL_SIM_THREADS-1 helper threads (default: one per hardware
// thread, created on the first launch, never at load time) take whole blocks from an atomic
// counter. Launches are serialized by a mutex, so host threads may launch concurrently. The
// launch limits are a GPU's: blockDim <= (1024, 1024, 64) with at most 1024 threads,
// gridDim.x < 2^31, gridDim.y/z <= 65535, dynamic shared memory <= 48 KiB unless a kernel is
// granted more with cudaFuncSetAttribute, up to the opt-in limit of the simulated architecture
// (STEPRL_SIM_ARCH: 227 KiB on sm_90, 163 KiB on sm_80, 99 KiB on sm_86/sm_89), and static +
// dynamic shared memory within 48 KiB (or that opt-in limit) once a launch has counted the kernel's
// static __shared__ variables (scheduler.cc's static_shared checks the first launch as it runs;
// kernel_bounds checks __launch_bounds__ in every block before the kernel's code). After the
// blocks, the allocation canaries are checked so an out-of-bounds write that missed every guard
// page still fails the launch.
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>

#include "sched.h"

namespace steprl_sim {
namespace {

constexpr std::size_t kDefaultMaxDynamicShared = kDefaultSharedLimit;

class Pool {
 public:
  explicit Pool(unsigned helpers) : helpers_(helpers) {
    for (unsigned i = 0; i < helpers; ++i) std::thread([this] { loop(); }).detach();
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
  const unsigned helpers_;
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

std::map<ErasedKernel, std::size_t>* g_static_shared = nullptr;  // only kernels found over a limit

// The dynamic shared bytes `kernel` may request, and whether it opted in with cudaFuncSetAttribute.
std::size_t max_dynamic_shared_for(ErasedKernel kernel, bool* opted_in) {
  std::lock_guard<std::mutex> lock(g_attribute_mutex);
  *opted_in = false;
  if (g_max_dynamic_shared == nullptr) return kDefaultMaxDynamicShared;
  auto it = g_max_dynamic_shared->find(kernel);
  if (it == g_max_dynamic_shared->end()) return kDefaultMaxDynamicShared;
  *opted_in = true;
  return it->second;
}

}  // namespace

std::size_t known_static_shared(ErasedKernel kernel) {
  std::lock_guard<std::mutex> lock(g_attribute_mutex);
  if (g_static_shared == nullptr) return 0;
  auto it = g_static_shared->find(kernel);
  return it == g_static_shared->end() ? 0 : it->second;
}

void note_static_shared(ErasedKernel kernel, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(g_attribute_mutex);
  if (g_static_shared == nullptr) g_static_shared = new std::map<ErasedKernel, std::size_t>;
  std::size_t& known = (*g_static_shared)[kernel];
  if (bytes > known) known = bytes;
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
  // Launches are synchronous, so every stream is trivially in order; only set_sole_stream limits them.
  if (!launch_stream_allowed(stream, name)) return cudaErrorInvalidResourceHandle;
  char message[1024];
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  const char* problem = nullptr;
  cudaError_t error = cudaErrorInvalidConfiguration;
  bool opted_in = false;
  const std::size_t max_dynamic = max_dynamic_shared_for(kernel, &opted_in);
  const std::size_t shared_limit = opted_in ? max_dynamic_shared_bytes() : kDefaultSharedLimit;
  const std::size_t known_static = known_static_shared(kernel);
  if (block.x == 0 || block.y == 0 || block.z == 0 || grid.x == 0 || grid.y == 0 || grid.z == 0) {
    problem = "a zero grid or block dimension";
  } else if (block.x > 1024 || block.y > 1024 || block.z > 64 || threads > kMaxThreadsPerBlock) {
    problem = "blockDim over the limits (x, y <= 1024, z <= 64, x*y*z <= 1024)";
  } else if (grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) {
    problem = "gridDim over the limits (x < 2^31, y, z <= 65535)";
  } else if (shared_bytes > max_dynamic) {
    problem = "more dynamic shared memory than allowed (48 KiB unless raised with cudaFuncSetAttribute, "
              "at most cudaDevAttrMaxSharedMemoryPerBlockOptin of the simulated STEPRL_SIM_ARCH)";
    error = cudaErrorInvalidValue;
  } else if (known_static != 0 && known_static + shared_bytes > shared_limit) {
    problem = "static + dynamic shared memory over the limit (an earlier launch of this kernel counted its static "
              "__shared__ variables; 48 KiB without cudaFuncSetAttribute, else the opt-in limit of STEPRL_SIM_ARCH)";
    error = cudaErrorInvalidValue;
  } else if (in_kernel()) {
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
  launch.shared_limit = shared_limit;
  launch.total_blocks = 1ull * grid.x * grid.y * grid.z;
  std::lock_guard<std::mutex> lock(g_launch_mutex);
  launch.order_seed = order_seed_for_next_launch();
  pool().run(launch);
  char damage[512];
  const bool intact = check_canaries(damage, sizeof damage);  // always: it also repairs them
  if (launch.failed.load()) {
    std::snprintf(message, sizeof message, "kernel %s: %s", name, launch.fault.c_str());
    set_launch_failure(launch.fault_error, message);
    return launch.fault_error;
  }
  if (!intact) {
    std::snprintf(message, sizeof message, "kernel %s wrote out of bounds: %s", name, damage);
    set_launch_failure(cudaErrorIllegalAddress, message);
    return cudaErrorIllegalAddress;
  }
  return cudaSuccess;
}

}  // namespace steprl_sim
