// tensor_core.cc: mma.sync, ldmatrix and cp.async for the simulator (see tensor_core.h).
//
// Fragment layouts (PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type" and
// "ldmatrix"): lane l has group g = l / 4 and thread-in-group t = l % 4; a .b32 register holds two
// b16 elements, the lower-indexed one in its low 16 bits.
//   A 16x16 (row): a[r] holds (row g + 8 (r & 1), cols 2t, 2t+1 + 8 (r >> 1))
//   B 16x8  (col): b[r] holds (rows 2t, 2t+1 + 8 r, col g)
//   C/D 16x8 f32:  c[i] holds (row g + 8 (i >> 1), col 2t + (i & 1))
//   ldmatrix m8n8 b16: r[i] holds row g, cols 2t, 2t+1 of matrix i (rows given by lanes 8i..8i+7);
//   with .trans: rows 2t and 2t+1, col g (that is, the fragment of the transposed matrix).
#include "tensor_core.h"

#include <cstring>
#include <memory>

#include "sched.h"

namespace steprl_sim {
namespace {

constexpr unsigned kFullWarp = 0xffffffffu;
enum class Collective : int { kMma = 1, kLdmatrix = 2 };

// What each lane of each warp of the block running on this OS thread deposited for the current
// collective. A block's fibers share the OS thread, so one table per OS thread suffices.
thread_local const void* tl_deposit[kMaxThreadsPerBlock / 32][32];
thread_local int tl_kind[kMaxThreadsPerBlock / 32][32];

// Deposits `mine` and waits for all 32 lanes; returns the warp's deposits, valid until
// warp_release. `what` names the instruction in faults.
const void* const* warp_gather(FiberHeader* self, Collective kind, const void* mine, const char* what) {
  const WarpState& w = self->block->warps[self->warp];
  if (w.existing != kFullWarp)
    device_fault("%s needs all 32 lanes, but warp %u has only lanes 0x%08x (blockDim is not a multiple of 32)",
                 what, self->warp, w.existing);
  tl_deposit[self->warp][self->lane] = mine;
  tl_kind[self->warp][self->lane] = static_cast<int>(kind);
  warp_exchange(self, kFullWarp, WarpOp::kMatrix, 0, 0);
  for (unsigned l = 0; l < 32; ++l) {
    if (tl_kind[self->warp][l] != static_cast<int>(kind))
      device_fault("lanes %u and %u of warp %u meet in different tensor-core instructions (%s)", self->lane, l,
                   self->warp, what);
  }
  return tl_deposit[self->warp];
}

// Second meeting: after it no lane still reads another lane's deposit.
void warp_release(FiberHeader* self) { warp_exchange(self, kFullWarp, WarpOp::kMatrix, 0, 0); }

inline double bf16_bits_to_double(std::uint32_t bits16) {
  const std::uint32_t bits = bits16 << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

struct MmaDeposit {
  std::uint32_t a[4];
  std::uint32_t b[2];
  float c[4];
};

// ---- cp.async ---------------------------------------------------------------------------------

constexpr unsigned kMaxCopiesInFlight = 64;  // per thread; more is reported as a kernel fault

struct Copy {
  unsigned char* dst;
  std::uint32_t group;  // commit groups before it: the group it belongs to once committed
  unsigned char data[16];
};

struct ThreadCopies {
  std::uint32_t committed = 0;  // cp.async.commit_group calls so far
  unsigned size = 0;
  Copy queue[kMaxCopiesInFlight];  // oldest first
};

thread_local std::unique_ptr<ThreadCopies[]> tl_copies;  // per linear thread id, allocated on first use

ThreadCopies& copies_of(FiberHeader* self) {
  if (!tl_copies) tl_copies.reset(new ThreadCopies[kMaxThreadsPerBlock]);
  return tl_copies[self->linear_tid];
}

}  // namespace

void mma_m16n8k16_bf16_f32(float d[4], const std::uint32_t a[4], const std::uint32_t b[2], const float c[4]) {
  FiberHeader* self = current_fiber();
  MmaDeposit mine;
  std::memcpy(mine.a, a, sizeof mine.a);
  std::memcpy(mine.b, b, sizeof mine.b);
  std::memcpy(mine.c, c, sizeof mine.c);
  const void* const* all = warp_gather(self, Collective::kMma, &mine, "mma.sync.m16n8k16");
  const unsigned g = self->lane / 4, t = self->lane % 4;
  float out[4];
  for (unsigned i = 0; i < 4; ++i) {
    const unsigned row = g + 8 * (i >> 1), col = 2 * t + (i & 1);
    double sum = mine.c[i];
    for (unsigned k = 0; k < 16; ++k) {
      const auto* pa = static_cast<const MmaDeposit*>(all[(row % 8) * 4 + (k % 8) / 2]);
      const auto* pb = static_cast<const MmaDeposit*>(all[col * 4 + (k % 8) / 2]);
      const std::uint32_t ra = pa->a[(row / 8) + 2 * (k / 8)], rb = pb->b[k / 8];
      sum += bf16_bits_to_double((ra >> (16 * (k & 1))) & 0xffffu) * bf16_bits_to_double((rb >> (16 * (k & 1))) & 0xffffu);
    }
    out[i] = static_cast<float>(sum);
  }
  warp_release(self);
  std::memcpy(d, out, sizeof out);
}

void ldmatrix(std::uint32_t* r, int count, bool trans, const void* row_address) {
  FiberHeader* self = current_fiber();
  if (self->lane < 8u * count && reinterpret_cast<std::uintptr_t>(row_address) % 16 != 0)
    device_fault("ldmatrix row address %p of lane %u is not 16-byte aligned", row_address, self->lane);
  const void* const* all = warp_gather(self, Collective::kLdmatrix, row_address, "ldmatrix");
  const unsigned g = self->lane / 4, t = self->lane % 4;
  std::uint32_t out[4] = {0, 0, 0, 0};
  for (int i = 0; i < count; ++i) {
    if (!trans) {
      std::memcpy(&out[i], static_cast<const unsigned char*>(all[8 * i + g]) + 4 * t, 4);
    } else {
      std::uint16_t lo, hi;
      std::memcpy(&lo, static_cast<const unsigned char*>(all[8 * i + 2 * t]) + 2 * g, 2);
      std::memcpy(&hi, static_cast<const unsigned char*>(all[8 * i + 2 * t + 1]) + 2 * g, 2);
      out[i] = lo | (static_cast<std::uint32_t>(hi) << 16);
    }
  }
  warp_release(self);
  std::memcpy(r, out, sizeof(std::uint32_t) * count);
}

void cp_async_16(void* shared_dst, const void* global_src, int src_bytes) {
  FiberHeader* self = current_fiber();
  if (src_bytes < 0 || src_bytes > 16) device_fault("cp.async source size %d is not in [0, 16]", src_bytes);
  if (reinterpret_cast<std::uintptr_t>(shared_dst) % 16 != 0 ||
      (src_bytes > 0 && reinterpret_cast<std::uintptr_t>(global_src) % 16 != 0))
    device_fault("cp.async of 16 bytes from %p to %p: both addresses must be 16-byte aligned", global_src, shared_dst);
  ThreadCopies& q = copies_of(self);
  if (q.size == kMaxCopiesInFlight)
    device_fault("more than %u cp.async copies in flight in one thread (missing cp.async.wait_group?)",
                 kMaxCopiesInFlight);
  Copy& c = q.queue[q.size++];
  c.dst = static_cast<unsigned char*>(shared_dst);
  c.group = q.committed;
  std::memset(c.data, 0, sizeof c.data);
  if (src_bytes > 0) std::memcpy(c.data, global_src, static_cast<std::size_t>(src_bytes));  // faults here if out of bounds
  std::memset(shared_dst, 0xff, 16);  // undefined until the copy's group retires: NaN
}

void cp_async_commit() { ++copies_of(current_fiber()).committed; }

void cp_async_wait_group(int pending) {
  ThreadCopies& q = copies_of(current_fiber());
  unsigned done = 0;
  // Groups g with g + pending < committed have retired; uncommitted copies (g == committed) never.
  while (done < q.size && static_cast<std::uint64_t>(q.queue[done].group) + static_cast<unsigned>(pending) < q.committed) {
    std::memcpy(q.queue[done].dst, q.queue[done].data, 16);
    ++done;
  }
  if (done != 0) {
    std::memmove(q.queue, q.queue + done, sizeof(Copy) * (q.size - done));
    q.size -= done;
  }
}

void reset_async_copies(unsigned thread_count) {
  if (!tl_copies) return;
  for (unsigned i = 0; i < thread_count; ++i) tl_copies[i].committed = 0, tl_copies[i].size = 0;
}

}  // namespace steprl_sim
