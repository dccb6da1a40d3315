// flash_attention.cu: causal GQA attention with bf16 q, k, v on tensor cores (cuda/flash_attention.h),
// FlashAttention-2's forward (Dao 2023, Algorithm 1) on mma.sync m16n8k16 bf16 with fp32
// accumulation, in the style of cuda/gemm_bf16.cu (cuda/tensor_core.cuh's wrappers, so the
// simulator runs the same source); the backward is cuda/flash_attention_backward.cu, and what the
// two share (geometry, tile loader, warp tile products) cuda/flash_attention_tile.cuh. This file
// also holds the fallback onto cuda/attention.cu's fp32 kernels (exactly widened copies).
//
// A block of 4 warps owns one kv head of one batch row and 64 stacked query rows R = t*G + g (the
// G query heads sharing the kv head, as in cuda/attention.cu: each K/V tile is loaded once for all
// of them); warp w owns rows 16w..16w+15. The query tile goes global -> shared by cp.async and,
// with ldmatrix.x4, into registers as the mma A fragments of the whole (zero-padded) head, where it
// stays. K and V are walked in tiles of 64 keys from kvStart to the last key a row of the block can
// see, double-buffered in shared memory: tile j + 1 is in flight (cp.async.cg, one commit group)
// while tile j is multiplied; one cp.async.wait_group 0 + __syncthreads per tile both publishes
// tile j and frees the buffer the next copies overwrite. Per tile and warp:
//   S = Q K^T      16 x 64 fp32 in registers (8 n8 accumulators; K tile rows = keys, K-major B
//                  operand: ldmatrix.x4, no transpose)
//   mask           key > S - T + t (causal; covers keys past the last visible one and the zero rows
//                  loaded for them) -> -inf; keys start at kvStart, so the left padding never loads
//   online softmax in base 2 on x = S * scale * log2(e): row max over the 4 lanes of a quad
//                  (2 xor-shuffles), m_new, alpha = 2^(m - m_new), p = 2^(x - m_new); each lane
//                  keeps a partial row sum l (fp32, of the unrounded p) reduced once at the end
//   O = alpha O + P V   P rounded to bf16 (round to nearest even) and repacked from the S
//                  accumulator layout straight into A fragments (the C layout of two n8 blocks is
//                  the A layout of one k16 block); V tile rows = keys, N-major B operand:
//                  ldmatrix.x4.trans
// Epilogue: out = O / l (fp32), lse = ln2 (m + log2 l); a row without a valid key keeps m = -inf,
// l = 0 and writes out = 0, lse = -inf (no exp2 of -inf - -inf is ever taken).
// Shared rows are padded by 8 bf16 (16 bytes), so the 8 rows of an ldmatrix phase fall in 8
// distinct bank groups (as in gemm_bf16.cu). Heads are padded with zeros to kD = 64 or 128
// (cp.async's src-size 0 for chunks past D, D % 8 == 0), which changes no dot product.
//
// Output precision: out is fp32 (like matmul's bf16 path): the backward's Di = dout . out and any
// consumer that rounds to bf16 itself get the unrounded value, and the float32 contract of
// ops.attention's out is kept. Accuracy: S is exact bf16 products summed in fp32; the one rounding
// FA2 adds is P to bf16 before P V (relative 2^-9 per probability), so |out - exact| <= ~2^-8
// sum_s p_s |v_s| (the normalization uses the fp32 sum of unrounded p).
//
// Sizes (ptxas -v, CUDA 13, sm_90 and sm_80 alike; nothing measured on a GPU), 128 threads a block:
//   forward  kD = 128: 254 registers, (64 + 2 x 2 x 64) x 136 x 2 = 87,040 B of shared memory:
//            2 blocks (8 warps) per SM, register-limited; kD = 64: 168 registers, 46,080 B, 3.
//   (the backward's kernels: cuda/flash_attention_backward.cu)
// No spills. Registers per thread ~ kD/4 (Q fragments) + kD/2 (O) + 32 (S) + addressing.
// Work per key tile and block: 2 x 2 x 64 x 64 x kD FLOP (QK^T and PV) on 64 x kD x 2 x 2 bytes
// of K and V brought from L2/HBM: 64 FLOP per byte (each K/V tile serves the block's 64 rows).
//
// Decode (T = 1, G query heads per kv head) uses G of the 64 rows of a tile: bandwidth-bound on
// the cache read like cuda/attention.cu; no split-KV pass (one block per (b, kv head)).
#include "flash_attention.h"

#include <string>

#include "attention.h"
#include "common.cuh"
#include "device.h"
#include "flash_attention_tile.cuh"
#include "tensor_core.cuh"

namespace steprl::cuda {
namespace flash {

unsigned grid_of(int64_t blocks) { return static_cast<unsigned>(blocks < (int64_t{1} << 30) ? blocks : (int64_t{1} << 30)); }

namespace {

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

// bf16 bits -> float32, exact.
__global__ void __launch_bounds__(256) widen_bf16_kernel(float* out, const uint16_t* in, int64_t n) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = __uint_as_float(static_cast<uint32_t>(__ldg(in + i)) << 16);
}

}  // namespace

std::shared_ptr<DeviceAllocation> widened(const uint16_t* in, int64_t n) {
  auto out = allocate(static_cast<size_t>(n) * sizeof(float));
  if (n > 0) STEPRL_LAUNCH(widen_bf16_kernel, grid_of(ceil_div(n, 256)), 256, 0, stream(), out->as<float>(), in, n);
  return out;
}

bool tensor_core_path(const AttentionShape& s, std::initializer_list<const void*> tensors) {
  bool ok = s.D % 8 == 0 && s.D <= kFlashAttentionMaxHeadDim;
  for (const void* t : tensors) ok = ok && aligned16(t);
  return ok;
}

}  // namespace flash

namespace {

using namespace flash;

template <int kD>
struct FlashTile {
  static constexpr int kStride = kRowStride<kD>;        // bf16 per shared row
  static constexpr int kQElems = kBlockRows * kStride;   // the query tile
  static constexpr int kKVElems = kKeys * kStride;       // one K or V tile
  static constexpr int kStageElems = 2 * kKVElems;       // K and V of one stage
  static constexpr size_t kSharedBytes = (kQElems + 2 * kStageElems) * sizeof(uint16_t);
  static_assert(kD % 16 == 0 && kD <= 128, "the tensor-core forward pads heads to 64 or 128");
};

template <int kD>
__global__ void __launch_bounds__(kThreads)
flash_attention_forward_kernel(const AttentionBf16ForwardArgs a, const FlashProblem p) {
  using Tile = FlashTile<kD>;
  constexpr int KB = kD / 16;     // k16 steps over the head (S = Q K^T)
  constexpr int DN = kD / 8;      // n8 blocks of the head (O)
  constexpr int SN = kKeys / 8;   // n8 blocks of keys (S)
  STEPRL_DYNAMIC_SHARED(uint16_t, smem);
  uint16_t* qs = smem;
  uint16_t* kv = smem + Tile::kQElems;  // stage st: K at kv + st * kStageElems, V kKVElems after it
  const AttentionShape& s = p.s;
  const int tid = static_cast<int>(threadIdx.x), lane = tid % 32, warp = tid / 32;
  const int g4 = lane / 4, t4 = lane % 4;
  const float scale2 = s.scale * kLog2e;

  for (int64_t block = blockIdx.x; block < s.B * s.KVH * p.tiles; block += gridDim.x) {
    const int64_t tile = block % p.tiles, b = block / p.tiles / s.KVH, kvh = block / p.tiles % s.KVH;
    const QueryBlock qb = query_block<kKeys>(p, a.kv_start, tile, b);
    const int64_t row0 = qb.row0, lo = qb.lo, hi_block = qb.hi_block;  // hi_block: the last key any row of the block sees
    const int key_tiles = qb.key_tiles;
    // This thread's two accumulator rows (g and g + 8 of the warp's 16): their last visible key.
    int64_t hi[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int64_t t = (row0 + warp * 16 + g4 + 8 * half) / p.G;
      hi[half] = t < s.T ? s.S - s.T + t : -1;
    }

    auto q_row = [&](int r) -> const uint16_t* {
      const int64_t R = row0 + r, t = R / p.G, h = kvh * p.G + R % p.G;
      return t < s.T ? a.q + ((b * s.T + t) * s.H + h) * s.D : nullptr;
    };
    const int64_t kv_row_stride = s.KVH * s.D;  // bf16 between consecutive keys
    auto load_kv = [&](int stage, int64_t s0) {
      uint16_t* ks = kv + stage * Tile::kStageElems;
      const int64_t offset = ((b * s.Smax + s0) * s.KVH + kvh) * s.D;
      const int64_t left = hi_block - s0;  // rows r <= left hold keys some row of the block sees
      const int rows = left >= kKeys - 1 ? kKeys : static_cast<int>(left) + 1;
      const uint16_t* k0 = a.k + offset;
      const uint16_t* v0 = a.v + offset;
      load_tile<kD>(ks, [&](int r) { return r < rows ? k0 + r * kv_row_stride : nullptr; }, a.k, s.D, tid);
      load_tile<kD>(ks + Tile::kKVElems, [&](int r) { return r < rows ? v0 + r * kv_row_stride : nullptr; }, a.v, s.D, tid);
    };

    __syncthreads();  // the previous block's tiles are no longer read
    load_tile<kD>(qs, q_row, a.q, s.D, tid);
    if (key_tiles > 0) load_kv(0, lo);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();  // the query tile (and key tile 0) of every thread has landed

    uint32_t qf[KB][4];  // A fragments of the warp's 16 query rows over the whole head
#pragma unroll
    for (int kk = 0; kk < KB; ++kk) load_a<kD>(qf[kk], qs, warp, lane, kk);

    float o[DN][4];
    zero_accumulators(o);
    float m_row[2] = {-INFINITY, -INFINITY}, l_row[2] = {0.0f, 0.0f};

    for (int j = 0; j < key_tiles; ++j) {
      cp_async_wait<0>();  // this thread's copies of tile j have landed
      __syncthreads();     // everyone's have; and everyone is done with tile j - 1
      if (j + 1 < key_tiles) load_kv((j + 1) % 2, lo + int64_t{j + 1} * kKeys);
      cp_async_commit();
      const uint16_t* ks = kv + (j % 2) * Tile::kStageElems;
      const uint16_t* vs = ks + Tile::kKVElems;
      const int64_t s0 = lo + int64_t{j} * kKeys;
      // Column c = 8 n + 2 t4 + e of the tile is visible to accumulator row `half` iff c <= limit[half].
      const int limit[2] = {visible_limit<kKeys>(hi[0], s0), visible_limit<kKeys>(hi[1], s0)};

      // S = Q K^T: B[k = d][n = key] = K[key][d], K-major.
      float sc[SN][4];
      zero_accumulators(sc);
#pragma unroll
      for (int kk = 0; kk < KB; ++kk) mma_kmajor<kD>(sc, qf[kk], ks, lane, kk);

      // Mask, scale to base 2, online softmax. sc[n][i]: row g4 + 8 (i / 2), key s0 + 8 n + 2 t4 + i % 2.
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        float tile_max = -INFINITY;
#pragma unroll
        for (int n = 0; n < SN; ++n)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            float& x = sc[n][2 * half + e];
            x = 8 * n + 2 * t4 + e <= limit[half] ? x * scale2 : -INFINITY;
            tile_max = fmaxf(tile_max, x);
          }
        tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullMask, tile_max, 1));
        tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullMask, tile_max, 2));
        const float m_new = fmaxf(m_row[half], tile_max);
        float alpha = 1.0f, sum = 0.0f;
        if (m_new != -INFINITY) {
          alpha = exp2f(m_row[half] - m_new);  // 0 while nothing was valid (m = -inf)
#pragma unroll
          for (int n = 0; n < SN; ++n)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              float& x = sc[n][2 * half + e];
              x = exp2f(x - m_new);
              sum += x;
            }
        } else {
#pragma unroll
          for (int n = 0; n < SN; ++n) sc[n][2 * half] = sc[n][2 * half + 1] = 0.0f;
        }
        l_row[half] = l_row[half] * alpha + sum;
        m_row[half] = m_new;
#pragma unroll
        for (int n = 0; n < DN; ++n) {
          o[n][2 * half] *= alpha;
          o[n][2 * half + 1] *= alpha;
        }
      }

      // O += P V: P's accumulators for keys 16 kb .. 16 kb + 15 are the A fragment of one k16 step;
      // B[k = key][n = d] = V[key][d], N-major.
#pragma unroll
      for (int kb = 0; kb < kKeys / 16; ++kb) {
        uint32_t pf[4];
        pack_a(pf, sc, kb);
        mma_nmajor<kD>(o, pf, vs, lane, kb);
      }
    }
    cp_async_wait<0>();  // nothing is left in flight (the trailing group is empty)

    // Epilogue: the quad's partial sums, then out = O / l and lse for the two rows of this thread.
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float l = l_row[half];
      l += __shfl_xor_sync(kFullMask, l, 1);
      l += __shfl_xor_sync(kFullMask, l, 2);
      const int64_t R = row0 + warp * 16 + g4 + 8 * half, t = R / p.G, h = kvh * p.G + R % p.G;
      if (t >= s.T) continue;
      float* out = a.out + ((b * s.T + t) * s.H + h) * s.D;
      const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
      for (int n = 0; n < DN; ++n) {
        const int64_t d = 8 * n + 2 * t4;
        if (d < s.D) out[d] = o[n][2 * half] * inv;  // D is even: d + 1 < D too
        if (d + 1 < s.D) out[d + 1] = o[n][2 * half + 1] * inv;
      }
      if (t4 == 0) a.lse[(b * s.H + h) * s.T + t] = l > 0.0f ? (m_row[half] + log2f(l)) * kLn2 : -INFINITY;
    }
  }
}

template <int kD>
void forward(const AttentionBf16ForwardArgs& a, const FlashProblem& p) {
  constexpr size_t bytes = FlashTile<kD>::kSharedBytes;
  if (bytes > 48 * 1024) {
    static const bool opted_in = [] {  // once per instantiation
      STEPRL_CUDA_CHECK(cudaFuncSetAttribute(flash_attention_forward_kernel<kD>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
      return true;
    }();
    (void)opted_in;
  }
  STEPRL_LAUNCH(flash_attention_forward_kernel<kD>, grid_of(p.s.B * p.s.KVH * p.tiles), kThreads, bytes, stream(), a, p);
}

}  // namespace

void attention_bf16_forward_cuda(const AttentionBf16ForwardArgs& a) {
  const AttentionShape& s = a.shape;
  if (s.B == 0 || s.T == 0) return;
  if (!flash::tensor_core_path(s, {a.q, a.k, a.v})) {  // exact widening, then the fp32 kernels
    const int64_t nq = s.B * s.T * s.H * s.D, nkv = s.B * s.Smax * s.KVH * s.D;
    const auto q = flash::widened(a.q, nq), k = flash::widened(a.k, nkv), v = flash::widened(a.v, nkv);
    attention_forward_cuda({a.out, a.lse, q->as<float>(), k->as<float>(), v->as<float>(), a.kv_start, s});
    return;
  }
  FlashProblem p{s, s.H / s.KVH, 0};
  p.tiles = ceil_div(s.T * p.G, kBlockRows);
  if (s.D <= 64) forward<64>(a, p);
  else forward<128>(a, p);
}

}  // namespace steprl::cuda
