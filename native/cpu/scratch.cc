// scratch.cc: the default scratch allocator of scratch.h (64-byte aligned malloc) and the hook the
// addon sets to its host pool.
#include "scratch.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace steprl::cpu {
namespace {

void* default_allocate(size_t bytes) {
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* data = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (data == nullptr) throw std::bad_alloc();
  return data;
}

void default_free(void* data, size_t) { std::free(data); }

std::atomic<ScratchAllocate> g_allocate{default_allocate};
std::atomic<ScratchFree> g_free{default_free};

}  // namespace

void set_scratch_allocator(ScratchAllocate allocate, ScratchFree free) {
  const bool reset = allocate == nullptr || free == nullptr;
  g_allocate.store(reset ? default_allocate : allocate);
  g_free.store(reset ? default_free : free);
}

void* scratch_allocate(size_t bytes) { return g_allocate.load()(bytes); }

void scratch_free(void* data, size_t bytes) {
  if (data != nullptr) g_free.load()(data, bytes);
}

}  // namespace steprl::cpu
