// embedding.cu: token embedding lookup and its deterministic gradient (cuda/embedding.h; the CPU
// statement is native/cpu/embedding.cc).
//   forward   one block per row (grid-stride): out[n,:] = table[tokens[n],:], 16-byte loads and
//             stores when rows are 16-byte aligned (C % 4 == 0), else one float per thread;
//   backward  the (token, n) pairs sorted as 64-bit keys token << 32 | n (cuda/group_sort.cuh's
//             bitonic sort: every key distinct, so the order is fixed), then one warp per run of
//             equal tokens: lanes stride over the columns (4 at a time when aligned) and each sums
//             the run's dout rows in increasing n before one read-modify-write of dtable[token].
//             Every dtable row has exactly one writer and one summation order: no atomics, the
//             same bits on every run (the CPU sorts the same pairs but adds each row into dtable
//             as it goes, so the two can differ in the last bits).
// Bytes (H100): forward 8NC (+4N); backward 4NC read + 8C per distinct token + the sort's
// O(N log^2 N) key traffic (8-byte keys; microseconds for N up to ~64K tokens): memory-bound.
// A run of one token is walked by one warp (e.g. a padding token repeated N times is N row reads
// by 32 lanes), which bounds the parallelism by the number of distinct tokens in the batch.
#include "embedding.h"

#include "common.cuh"
#include "device.h"
#include "group_sort.cuh"

namespace steprl::cuda {
namespace {

constexpr int kMaxThreads = 256;

template <bool kVec>
__global__ void __launch_bounds__(kMaxThreads)
embedding_forward_kernel(float* out, const int32_t* tokens, const float* table, int64_t N, int64_t C) {  // [N,C], [N], [V,C]
  const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const float* src = table + static_cast<int64_t>(__ldg(tokens + n)) * C;
    float* dst = out + n * C;
    if constexpr (kVec) {
      for (int64_t v = tid; v < C / 4; v += threads) store_float4(dst + 4 * v, load_float4(src + 4 * v));
    } else {
      for (int64_t c = tid; c < C; c += threads) dst[c] = __ldg(src + c);
    }
  }
}

template <bool kVec>
__global__ void __launch_bounds__(group_sort::kGroupThreads)
embedding_backward_kernel(float* dtable, const float* dout,        // [V,C] +=, [N,C]
                          const group_sort::Key* keys, int64_t N, int64_t C) {  // keys [N] sorted
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  group_sort::for_each_group(keys, N, [&](int64_t start, int64_t end) {
    // The key's high word is the id with its sign bit flipped (signed order as unsigned).
    const int64_t token = static_cast<int32_t>(group_sort::key_group(keys[start]) ^ 0x80000000u);
    float* row = dtable + token * C;
    if constexpr (kVec) {
      for (int64_t c = 4 * lane; c < C; c += 4 * kWarpSize) {
        float4 sum = make_float4(0.f, 0.f, 0.f, 0.f);
        for (int64_t k = start; k < end; ++k) {
          const float4 g = load_float4(dout + group_sort::key_row(keys[k]) * C + c);
          sum = make_float4(sum.x + g.x, sum.y + g.y, sum.z + g.z, sum.w + g.w);
        }
        STEPRL_CHECK_ALIGNED_16(row + c);
        const float4 old = *reinterpret_cast<const float4*>(row + c);
        store_float4(row + c, make_float4(old.x + sum.x, old.y + sum.y, old.z + sum.z, old.w + sum.w));
      }
    } else {
      for (int64_t c = lane; c < C; c += kWarpSize) {
        float sum = 0.0f;
        for (int64_t k = start; k < end; ++k) sum += __ldg(dout + group_sort::key_row(keys[k]) * C + c);
        row[c] += sum;
      }
    }
  });
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

int threads_for(int64_t units) {
  int threads = 32;
  while (threads < kMaxThreads && threads * int64_t{4} < units) threads *= 2;
  return threads;
}

}  // namespace

void embedding_forward_cuda(float* out, const int32_t* tokens, const float* table, int64_t N, int64_t C) {
  if (N <= 0 || C <= 0) return;
  const unsigned grid = static_cast<unsigned>(N < (int64_t{1} << 30) ? N : (int64_t{1} << 30));
  if (C % 4 == 0 && aligned16(out) && aligned16(table))
    STEPRL_LAUNCH((embedding_forward_kernel<true>), grid, threads_for(C / 4), 0, stream(), out, tokens, table, N, C);
  else
    STEPRL_LAUNCH((embedding_forward_kernel<false>), grid, threads_for(C), 0, stream(), out, tokens, table, N, C);
}

void embedding_backward_cuda(float* dtable, const float* dout, const int32_t* tokens, int64_t N, int64_t C) {
  if (N <= 0 || C <= 0) return;
  // Tokens are >= 0, so the sort's signed-id order is the token order.
  const auto keys = group_sort::sorted_keys(tokens, N);
  const group_sort::Key* sorted = keys->as<group_sort::Key>();
  const unsigned blocks = group_sort::group_blocks(N);
  if (C % 4 == 0 && aligned16(dtable) && aligned16(dout))
    STEPRL_LAUNCH((embedding_backward_kernel<true>), blocks, group_sort::kGroupThreads, 0, stream(), dtable, dout, sorted, N, C);
  else
    STEPRL_LAUNCH((embedding_backward_kernel<false>), blocks, group_sort::kGroupThreads, 0, stream(), dtable, dout, sorted, N, C);
}

}  // namespace steprl::cuda
