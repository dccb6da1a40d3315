// matmul.cu: the linear layer (cuda/matmul.h) on one hand-written tiled SGEMM,
//   C[M,N] = op(A)[M,K] . op(B)[K,N] + bias[N] + addend[M,N]    (fp32 in, fp32 accumulation)
// in the three layouts the model needs (row-major storage; "K-major" = K is the contiguous index):
//   forward   out = inp . weight^T      A = inp  [N,C]  K-major, B = weight [OC,C] K-major
//   dinp     += dout . weight           A = dout [N,OC] K-major, B = weight [OC,C] N-major
//   dweight  += dout^T . inp            A = dout [N,OC] M-major, B = inp    [N,C]  N-major
// (addend = residual for the forward, C itself for the accumulating backward), and dbias by the
// column sums of cuda/column_sum.cuh.
// Tiling (the classic SGEMM of CUTLASS's SIMT path / Volkov): a 256-thread block computes a
// BM x BN tile of C, walking K in slabs of BK. Each slab of A and B goes global -> registers
// (one 16-byte load per thread per operand when the operand's rows are 16-byte aligned) ->
// shared memory, stored k-major (As[k][m], Bs[k][n], +4 floats of padding against bank
// conflicts) in two buffers, so the next slab is fetched while the current one is multiplied and
// one __syncthreads per slab suffices. Each thread keeps a TM x TN register block of C: per k it
// reads TM + TN floats as 16-byte shared loads and does TM*TN FMAs (8x8: 64 FMAs per 4 LDS.128).
// Its rows and columns are two groups of 4 half a tile apart, so 8 neighbouring threads read 8
// consecutive 16-byte words (no bank conflicts). Tiles: 128x128x8 (8x8 per thread, <= 139
// registers: one block of 8 warps per SM) when that gives at least one block per H100 SM, else
// 64x64x16 (4x4, <= 89 registers, two blocks per SM): small GEMMs (decode, tiny models) still
// fill the GPU. Every C element is accumulated by one thread with fmaf over k = 0..K-1 in
// order, in either tile shape: bit-identical results whatever the tiling, no atomics, no split-K.
// H100 (fp32 CUDA cores, 67 TFLOP/s FMA peak; no tensor cores: TF32 would miss the 1e-4 contract):
// 2*M*N*K FLOPs against (M*K + K*N)*(4 bytes) * (N/BN + M/BM re-reads, mostly from L2) + M*N*8.
// At 128x128 the arithmetic intensity is 32 FLOP per shared-memory byte loaded and ~2*BM*BN/(BM+BN)
// = 64 FLOP per global byte: compute-bound; a CUDA-core SGEMM of this shape reaches ~60-70% of
// the FMA peak (cuBLAS's SIMT kernels ~75%). The 64x64 tiles halve the reuse: ~40% of peak.
#include "matmul.h"

#include <string>

#include "column_sum.cuh"
#include "common.cuh"
#include "device.h"

namespace steprl::cuda {
namespace {

constexpr int kThreads = 256;  // a 16 x 16 grid of threads
constexpr int kPad = 4;        // floats after each shared-memory row: 16-byte aligned, bank-shifted

struct Gemm {
  const float* a;       // op(A) [M,K]: a[m*lda + k] (K-major) or a[k*lda + m] (M-major)
  const float* b;       // op(B) [K,N]: b[n*ldb + k] (K-major) or b[k*ldb + n] (N-major)
  float* c;             // [M,N], c[m*ldc + n]
  const float* bias;    // [N] or nullptr
  const float* addend;  // [M,N] with ldc, or nullptr; may be c itself (so it is not read via __ldg)
  int64_t lda, ldb, ldc;
  int64_t M, N, K;
};

// The calling thread's 16-byte group of each BR x BK slab of an operand (BR rows r, BK steps k),
// stored K-major (p[r*ld + k]: a group is 4 consecutive k of one r) or R-major (p[k*ld + r]: 4
// consecutive r of one k). The pointer and the row test are set up once; each slab advances the
// pointer by BK steps. `kVec`: one float4 load (the contiguous extent is a multiple of 4 and rows
// are 16-byte aligned, so a group is wholly inside or outside), else 4 guarded scalar loads.
template <int BR, int BK, bool kKMajor, bool kVec>
struct SlabLoader {
  static constexpr int kGroupsPerLine = kKMajor ? BK / 4 : BR / 4;
  // 32-bit step and limit (the launcher checks K < 2^31 and 16 * ld < 2^31): registers are the
  // budget of the 8x8 tiles (128 per thread at two blocks per SM).
  const float* p;     // this thread's group in slab 0
  int step;           // pointer advance per slab (BK for K-major)
  int k_limit;        // K - (this group's k in slab 0); <= 0 when its rows are outside
  int rows_left;      // rows of the group inside, clamped to [0, 4] (K-major groups have 1 row)

  __device__ __forceinline__ SlabLoader(const float* base, int64_t ld, int64_t r0, int64_t R, int64_t K, int tid) {
    const int line = tid / kGroupsPerLine, group = (tid % kGroupsPerLine) * 4;
    const int64_t r = r0 + (kKMajor ? line : group), k = kKMajor ? group : line;
    const int64_t left = R - r;
    rows_left = left <= 0 ? 0 : (left >= 4 ? 4 : static_cast<int>(left));
    k_limit = rows_left > 0 ? static_cast<int>(K - k) : 0;
    p = kKMajor ? base + r * ld + k : base + k * ld + r;
    step = kKMajor ? BK : static_cast<int>(BK * ld);
  }

  __device__ __forceinline__ float4 load(int slab) const {
    const int left = k_limit - slab * BK;  // steps of this group's k still inside
    const float* q = p + static_cast<int64_t>(slab) * step;
    if constexpr (kVec) {
      return left > 0 ? load_float4(q) : make_float4(0.f, 0.f, 0.f, 0.f);
    } else {
      float v[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const bool inside = kKMajor ? i < left : (i < rows_left && left > 0);
        v[i] = inside ? __ldg(q + i) : 0.0f;
      }
      return make_float4(v[0], v[1], v[2], v[3]);
    }
  }

  // Into the k-major shared slab s[k][r] (row stride BR + kPad).
  __device__ __forceinline__ static void store(float* s, float4 v, int tid) {
    const int line = tid / kGroupsPerLine, group = (tid % kGroupsPerLine) * 4;
    if constexpr (kKMajor) {
      s[(group + 0) * (BR + kPad) + line] = v.x;
      s[(group + 1) * (BR + kPad) + line] = v.y;
      s[(group + 2) * (BR + kPad) + line] = v.z;
      s[(group + 3) * (BR + kPad) + line] = v.w;
    } else {
      *reinterpret_cast<float4*>(s + line * (BR + kPad) + group) = v;
    }
  }
};

// kATrans: A is M-major (dweight); kBTrans: B is K-major (forward). kVec: A, B and C rows are
// 16-byte aligned with extents that are multiples of 4 (16-byte loads and stores throughout).
// Register budget: the 8x8 tiles need ~64 accumulators + 16 fragments + 8 prefetched + addressing,
// and ptxas double-buffers the fragments: at the 128-register cap of two blocks per SM it spills,
// so they run one 256-thread block per SM (8 warps, each with 64 independent FMA chains per k:
// enough ILP to hide shared-memory latency; the next slab is fetched a whole slab ahead). The 4x4
// tiles fit two blocks per SM.
template <int BM, int BN, int BK, int TM, int TN, bool kATrans, bool kBTrans, bool kVec>
__global__ void __launch_bounds__(kThreads, TM == 8 ? 1 : 2) sgemm_kernel(Gemm g) {
  static_assert(BM == 16 * TM && BN == 16 * TN && BM * BK == 4 * kThreads && BN * BK == 4 * kThreads, "tile shape");
  constexpr int kRowGroups = TM / 4, kColGroups = TN / 4;
  constexpr int kSlabA = BK * (BM + kPad), kSlabB = BK * (BN + kPad);  // floats per shared slab
  __shared__ float4 slabs[(2 * kSlabA + 2 * kSlabB) / 4];  // [A0 | A1 | B0 | B1], float4: 16-byte aligned
  float* const a_slabs = reinterpret_cast<float*>(slabs);
  float* const b_slabs = a_slabs + 2 * kSlabA;
  using LoadA = SlabLoader<BM, BK, !kATrans, kVec>;
  using LoadB = SlabLoader<BN, BK, kBTrans, kVec>;

  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % 16, ty = tid / 16;
  const int64_t m0 = int64_t{blockIdx.x} * BM, n0 = int64_t{blockIdx.y} * BN;
  const int slabs_k = static_cast<int>(ceil_div(g.K, BK));
  const float* const a_read = a_slabs + ty * 4;  // this thread's rows in a slab
  const float* const b_read = b_slabs + tx * 4;  // and columns

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

  const LoadA load_a(g.a, g.lda, m0, g.M, g.K, tid);
  const LoadB load_b(g.b, g.ldb, n0, g.N, g.K, tid);
  float4 next_a = load_a.load(0);
  float4 next_b = load_b.load(0);
  if (slabs_k > 0) {
    LoadA::store(a_slabs, next_a, tid);
    LoadB::store(b_slabs, next_b, tid);
  }
  __syncthreads();
  for (int s = 0; s < slabs_k; ++s) {
    const int cur = s & 1;
    if (s + 1 < slabs_k) {  // fetch the next slab while this one is multiplied
      next_a = load_a.load(s + 1);
      next_b = load_b.load(s + 1);
    }
    const float* as = a_read + cur * kSlabA;
    const float* bs = b_read + cur * kSlabB;
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < kRowGroups; ++i) {
        const float4 v = *reinterpret_cast<const float4*>(as + k * (BM + kPad) + i * (BM / kRowGroups));
        a[4 * i] = v.x, a[4 * i + 1] = v.y, a[4 * i + 2] = v.z, a[4 * i + 3] = v.w;
      }
#pragma unroll
      for (int j = 0; j < kColGroups; ++j) {
        const float4 v = *reinterpret_cast<const float4*>(bs + k * (BN + kPad) + j * (BN / kColGroups));
        b[4 * j] = v.x, b[4 * j + 1] = v.y, b[4 * j + 2] = v.z, b[4 * j + 3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    if (s + 1 < slabs_k) {
      LoadA::store(a_slabs + (cur ^ 1) * kSlabA, next_a, tid);
      LoadB::store(b_slabs + (cur ^ 1) * kSlabB, next_b, tid);
    }
    __syncthreads();
  }

  // Epilogue: c = (acc + bias) + addend, 16-byte stores when aligned.
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int64_t m = m0 + ty * 4 + (i / 4) * (BM / kRowGroups) + i % 4;
    if (m >= g.M) continue;
    float* c_row = g.c + m * g.ldc;
    const float* add_row = g.addend != nullptr ? g.addend + m * g.ldc : nullptr;
#pragma unroll
    for (int j = 0; j < kColGroups; ++j) {
      const int64_t col = n0 + tx * 4 + j * (BN / kColGroups);
      if (col >= g.N) continue;
      if constexpr (kVec) {
        float4 v = make_float4(acc[i][4 * j], acc[i][4 * j + 1], acc[i][4 * j + 2], acc[i][4 * j + 3]);
        if (g.bias != nullptr) {
          const float4 bias = load_float4(g.bias + col);
          v = make_float4(v.x + bias.x, v.y + bias.y, v.z + bias.z, v.w + bias.w);
        }
        if (add_row != nullptr) {
          STEPRL_CHECK_ALIGNED_16(add_row + col);
          const float4 add = *reinterpret_cast<const float4*>(add_row + col);
          v = make_float4(v.x + add.x, v.y + add.y, v.z + add.z, v.w + add.w);
        }
        store_float4(c_row + col, v);
      } else {
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          if (col + q >= g.N) break;
          float v = acc[i][4 * j + q];
          if (g.bias != nullptr) v += __ldg(g.bias + col + q);
          if (add_row != nullptr) v += add_row[col + q];
          c_row[col + q] = v;
        }
      }
    }
  }
}

constexpr int64_t kH100Multiprocessors = 132;

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

template <bool kATrans, bool kBTrans, bool kVec>
void launch_gemm(const Gemm& g) {
  const int64_t big_blocks = ceil_div(g.M, 128) * ceil_div(g.N, 128);
  const bool big = big_blocks >= kH100Multiprocessors;
  const int64_t bm = big ? 128 : 64, bn = big ? 128 : 64;
  const int64_t tiles_n = ceil_div(g.N, bn);
  if (g.K >= (int64_t{1} << 31) - 16 || g.lda >= (int64_t{1} << 27) || g.ldb >= (int64_t{1} << 27))
    throw ArgumentError("K", "Expected matmul sizes below 2^31 (and rows below 2^27 elements) on cuda but received K = " +
                                 std::to_string(g.K));
  if (tiles_n > 65535 || ceil_div(g.M, bm) >= (int64_t{1} << 31))
    throw ArgumentError("N", "Expected a matmul of at most " + std::to_string(65535 * bn) + " output columns on cuda but received " +
                                 std::to_string(g.N));
  const dim3 grid(static_cast<unsigned>(ceil_div(g.M, bm)), static_cast<unsigned>(tiles_n));
  if (big) STEPRL_LAUNCH((sgemm_kernel<128, 128, 8, 8, 8, kATrans, kBTrans, kVec>), grid, kThreads, 0, stream(), g);
  else STEPRL_LAUNCH((sgemm_kernel<64, 64, 16, 4, 4, kATrans, kBTrans, kVec>), grid, kThreads, 0, stream(), g);
}

// The A, B, C layouts as template flags; 16-byte paths when every row of every operand is aligned.
void gemm(bool a_trans, bool b_trans, const Gemm& g) {
  if (g.M <= 0 || g.N <= 0) return;
  const int64_t a_extent = a_trans ? g.M : g.K, b_extent = b_trans ? g.K : g.N;
  const bool vec = aligned16(g.a) && aligned16(g.b) && aligned16(g.c) && aligned16(g.bias) && aligned16(g.addend) &&
                   g.lda % 4 == 0 && g.ldb % 4 == 0 && g.ldc % 4 == 0 && a_extent % 4 == 0 && b_extent % 4 == 0 &&
                   g.N % 4 == 0;
  if (!a_trans && b_trans) vec ? launch_gemm<false, true, true>(g) : launch_gemm<false, true, false>(g);
  else if (!a_trans && !b_trans) vec ? launch_gemm<false, false, true>(g) : launch_gemm<false, false, false>(g);
  else if (a_trans && !b_trans) vec ? launch_gemm<true, false, true>(g) : launch_gemm<true, false, false>(g);
  else throw ArgumentError("layout", "steprl: no CUDA SGEMM for A^T . B^T");
}

struct DbiasTerm {
  const float* dout;  // [N,OC]
  int64_t OC;
  __device__ __forceinline__ float4 vec(int64_t n, int64_t c) const { return load_float4(dout + n * OC + c); }
  __device__ __forceinline__ float one(int64_t n, int64_t c) const { return __ldg(dout + n * OC + c); }
};

}  // namespace

void matmul_forward_cuda(const MatmulForwardArgs& a) {
  // K = C, M = N, N = OC; the epilogue adds bias and the residual (or out itself: accumulate).
  gemm(false, true, Gemm{a.inp, a.weight, a.out, a.bias, a.residual, a.C, a.C, a.OC, a.N, a.OC, a.C});
}

void matmul_backward_cuda(const MatmulBackwardArgs& a) {
  if (a.dinp != nullptr)  // [N,C] += dout[N,OC] . weight[OC,C]
    gemm(false, false, Gemm{a.dout, a.weight, a.dinp, nullptr, a.dinp, a.OC, a.C, a.C, a.N, a.C, a.OC});
  if (a.dweight != nullptr)  // [OC,C] += dout^T . inp[N,C]
    gemm(true, false, Gemm{a.dout, a.inp, a.dweight, nullptr, a.dweight, a.OC, a.C, a.C, a.OC, a.C, a.N});
  if (a.dbias != nullptr) {
    const bool vec = aligned16(a.dout) && a.OC % 4 == 0;
    column_sum::add_column_sums(a.dbias, DbiasTerm{a.dout, a.OC}, a.N, a.OC, vec);
  }
}

}  // namespace steprl::cuda
