// host_pool.cc: aligned host allocation with a size-keyed cache of freed large blocks, and the
// registry that lets Tensor.dispose() release addon-made ArrayBuffers before garbage collection.
#include "host_pool.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>

// Under AddressSanitizer (npm run test:asan) a cached block is poisoned while it waits for reuse,
// so a read of a disposed tensor's memory is reported even when the block went to the cache
// rather than to free().
#if defined(__SANITIZE_ADDRESS__)
#define STEPRL_HOST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STEPRL_HOST_ASAN 1
#endif
#endif
#if STEPRL_HOST_ASAN
#include <sanitizer/asan_interface.h>
#define STEPRL_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define STEPRL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define STEPRL_POISON(p, n) ((void)(p), (void)(n))
#define STEPRL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace steprl {
namespace {

constexpr size_t kAlignment = 64;
// Large blocks sit on 2 MiB boundaries. They are not marked MADV_HUGEPAGE: with the kernel's
// default defrag policy that triggers synchronous compaction, measured here at ~1 s for a fresh
// 256 MiB block against ~0.1 s of 4 KiB first-touch faults. Reuse through the cache avoids both.
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kHugeThreshold = size_t{4} << 20;
// Only blocks at least this large are cached; small ones are cheap to get from malloc.
constexpr size_t kCacheMinBytes = size_t{1} << 20;

size_t rounded_size(size_t bytes) {
  const size_t alignment = bytes >= kHugeThreshold ? kHugePage : kAlignment;
  return (bytes == 0 ? kAlignment : (bytes + alignment - 1) / alignment * alignment);
}

void* system_allocate(size_t rounded) {
  const size_t alignment = rounded >= kHugeThreshold ? kHugePage : kAlignment;
#if defined(_MSC_VER)
  void* p = _aligned_malloc(rounded, alignment);
#else
  void* p = std::aligned_alloc(alignment, rounded);
#endif
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void system_free(void* p) {
#if defined(_MSC_VER)
  _aligned_free(p);
#else
  std::free(p);
#endif
}

size_t cache_limit() {
  if (const char* env = std::getenv("STEPRL_HOST_CACHE_MB")) return static_cast<size_t>(std::atoll(env)) << 20;
  return size_t{2} << 30;
}

// An addon-made ArrayBuffer's memory; `released` is set once the memory went back to the pool.
struct Block {
  void* data;
  size_t bytes;
  bool released = false;
};

class Pool {
 public:
  // `scratch`: a kernel's per-call buffer (scratch.h), counted in live_ and in scratch_ too.
  void* get(size_t bytes, bool scratch) {
    const size_t rounded = rounded_size(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(rounded);
      if (it != free_.end()) {
        void* p = it->second;
        free_.erase(it);
        cached_ -= rounded;
        live_ += rounded;
        if (scratch) scratch_ += rounded;
        STEPRL_UNPOISON(p, rounded);
        return p;
      }
    }
    void* p = system_allocate(rounded);
    std::lock_guard<std::mutex> lock(mutex_);
    live_ += rounded;
    if (scratch) scratch_ += rounded;
    return p;
  }

  void put(void* p, size_t bytes, bool scratch) {
    if (p == nullptr) return;
    const size_t rounded = rounded_size(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      live_ -= rounded;
      if (scratch) scratch_ -= rounded;
      if (rounded >= kCacheMinBytes && cached_ + rounded <= limit_) {
        STEPRL_POISON(p, rounded);
        free_.emplace(rounded, p);
        cached_ += rounded;
        return;
      }
    }
    system_free(p);
  }

  void trim() {
    std::multimap<size_t, void*> drop;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      drop.swap(free_);
      cached_ = 0;
    }
    for (auto& entry : drop) {
      STEPRL_UNPOISON(entry.second, entry.first);
      system_free(entry.second);
    }
  }

  // Registry of blocks JS holds, keyed by data pointer.
  void track(Block* block) {
    std::lock_guard<std::mutex> lock(mutex_);
    blocks_[block->data] = block;
  }
  Block* untrack(void* data) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = blocks_.find(data);
    if (it == blocks_.end()) return nullptr;
    Block* block = it->second;
    blocks_.erase(it);
    return block;
  }
  void forget(Block* block) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = blocks_.find(block->data);
    if (it != blocks_.end() && it->second == block) blocks_.erase(it);
  }

  HostPoolStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {static_cast<int64_t>(cached_), static_cast<int64_t>(live_), static_cast<int64_t>(scratch_),
            static_cast<int64_t>(limit_)};
  }

 private:
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;
  std::unordered_map<void*, Block*> blocks_;
  size_t cached_ = 0, live_ = 0, scratch_ = 0, limit_ = cache_limit();
};

Pool& pool() {
  static Pool* instance = new Pool();  // leaked: finalizers may run during shutdown
  return *instance;
}

}  // namespace

void* host_allocate(size_t bytes) { return pool().get(bytes, false); }
void host_free(void* data, size_t bytes) { pool().put(data, bytes, false); }
void* host_scratch_allocate(size_t bytes) { return pool().get(bytes, true); }
void host_scratch_free(void* data, size_t bytes) { pool().put(data, bytes, true); }

Napi::ArrayBuffer host_to_array_buffer(Napi::Env env, void* data, size_t bytes) {
  auto* block = new Block{data, bytes};
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, data, bytes, [block](Napi::Env finalize_env, void*) {
    if (!block->released) {
      pool().forget(block);
      pool().put(block->data, block->bytes, false);
      Napi::MemoryManagement::AdjustExternalMemory(finalize_env, -static_cast<int64_t>(block->bytes));
    }
    delete block;
  });
  pool().track(block);
  // Tell V8 how much memory this handle keeps alive so large outputs trigger collection.
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(bytes));
  return buffer;
}

bool host_release(Napi::Env env, Napi::TypedArray array) {
  Napi::ArrayBuffer buffer = array.ArrayBuffer();
  if (buffer.IsDetached()) return false;
  Block* block = pool().untrack(buffer.Data());
  if (block == nullptr) return false;
  void* data = block->data;
  const size_t bytes = block->bytes;
  block->released = true;  // from here the finalizer only deletes the Block
  buffer.Detach();
  pool().put(data, bytes, false);
  Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(bytes));
  return true;
}

HostPoolStats host_pool_stats() { return pool().stats(); }
void host_pool_trim() { pool().trim(); }

}  // namespace steprl
