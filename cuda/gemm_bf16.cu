// gemm_bf16.cu: the linear layer of cuda/gemm_bf16.h on one bf16 tensor-core GEMM,
//   C[M,N] = op(A)[M,K] . op(B)[K,N] + bias[N] + addend[M,N]    (bf16 in, fp32 accumulate and out)
// in the three layouts of cuda/matmul.cu ("K-major": K is the contiguous index):
//   forward   out = inp . weight^T      A = inp  [N,C]  K-major, B = weight [OC,C] K-major
//   dinp     += dout . weight           A = dout [N,OC] K-major, B = weight [OC,C] N-major
//   dweight  += dout^T . inp            A = dout [N,OC] M-major, B = inp    [N,C]  N-major
//   gate/up   gu = inp . wgu^T as two F-column GEMMs, the second's epilogue also writing
//             s = bf16(silu(gate) * up) (matmul_bf16_swiglu_cuda: Llama's MLP without a swiglu pass)
// and dbias by the column sums of cuda/column_sum.cuh over the bf16 dout.
//
// Tiling (the Ampere mma.sync GEMM as CUTLASS's sm80 path and llm.c describe it): a block of
// kWarpsM x kWarpsN warps computes a BM x BN tile of C; each warp a (BM / kWarpsM) x
// (BN / kWarpsN) sub-tile as MI x NI mma.sync.m16n8k16 accumulators (fp32, in registers). K is
// walked in slabs of BK = 32 through a kStages-deep ring of shared-memory buffers filled by
// cp.async (16 bytes = 8 bf16 per copy, .cg: no L1 allocation): slab s + kStages - 1 is in flight
// while slab s is multiplied, and one __syncthreads per slab both publishes slab s and frees the
// buffer the next copies overwrite. Operands are stored in shared memory as they lie in global
// memory (K-major tiles [rows][BK], M/N-major tiles [BK][rows]), each row padded by 8 bf16 (16
// bytes): 8 consecutive rows then start in 8 different 16-byte bank groups, so every ldmatrix
// phase is conflict-free without a swizzle. ldmatrix.x4 gives the A fragments of a 16x16 block
// (.trans for M-major A) and the B fragments of two n8 blocks (.trans for N-major B).
// Tails: a copy whose row or k lies outside the matrix reads 0..16 bytes and zero-fills the rest
// (cp.async's src-size operand), so K needs no multiple of 16 and M, N no multiple of the tile;
// rows that are not 16-byte aligned (K or the leading dimension not a multiple of 8, or an
// unaligned view) take the kVec = false instantiation, which loads bf16 elements one by one.
// Accumulation: within one mma the 16 products are summed by the tensor core (fp32), the slabs
// in k order; each C element belongs to one thread of one block: deterministic.
//
// Sizes and expected speed (H100 SXM: 132 SMs, 989 dense bf16 TFLOP/s, 3.35 TB/s HBM; nothing
// here was measured on a GPU). 128x128x32 tiles, 8 warps of 64x32, 4 stages: 80 KiB of shared
// memory and <= 128 registers (ptxas, sm_90: 124-128) per thread: two blocks (16 warps) per SM,
// register-limited. Per slab a block moves 16 KiB global -> shared for 2*128*128*32 = 1 MFLOP,
// 64 FLOP/B: feeding 989 TFLOP/s would take 15.5 TB/s from L2 into the SMs, about twice what an
// H100's L2 delivers (~7 TB/s), so large GEMMs are L2-bound near 7 TB/s * 64 FLOP/B = ~450
// TFLOP/s (~45% of peak); HBM is not the limit (A and B are re-read from L2, ~1000 FLOP per HBM
// byte at 4096^3). Shared memory: per k16 step a warp reads 6 ldmatrix.x4 (3 KiB) for 16 mma (64
// KFLOP), 21 FLOP/B against 128 B/clock per SM: ~65% of peak, and mma.sync itself issues at
// ~60-70% of Hopper's wgmma rate. Expected: ~40-45% of 989 TFLOP/s on large shapes. 64x64 tiles
// (4 warps of 32x32, 36-40 KiB, 73-128 registers, 4-6 blocks per SM) are used when 128x128 tiles
// would leave SMs idle; at 32 FLOP/B they are L2-bound near ~20-25% of peak.
#include "gemm_bf16.h"

#include <string>
#include <type_traits>

#include "bf16_bits.cuh"
#include "column_sum.cuh"
#include "common.cuh"
#include "device.h"
#include "silu.cuh"
#include "tensor_core.cuh"

namespace steprl::cuda {
namespace {

constexpr int BK = 32;     // k per slab: two m16n8k16 steps
constexpr int kPad = 8;    // bf16 after each shared row (16 bytes)
constexpr int kStages = 4;

struct GemmBf16 {
  const uint16_t* a;  // A[m][k] at a[m * lda + k] (K-major) or a[k * lda + m] (M-major)
  const uint16_t* b;  // B[k][n] at b[n * ldb + k] (K-major) or b[k * ldb + n] (N-major)
  float* c;           // C[m][n] at c[m * ldc + n]
  const float* bias;    // [N] or nullptr
  const float* addend;  // C-shaped or nullptr; may be c (accumulate)
  int64_t lda, ldb, ldc, M, N, K;
  // SwiGLU epilogue (matmul_bf16_swiglu_cuda's second GEMM, the kGlu instantiation): C is `up` and
  // glu[m * ldglu + n] = bf16(silu(gate[m * ldc + n]) * c), gate written by an earlier kernel.
  const float* gate = nullptr;
  uint16_t* glu = nullptr;
  int64_t ldglu = 0;
};

// One operand tile of a slab in shared memory: kRows rows of kWidth contiguous bf16 (+ padding).
// K-major operand: rows = m (or n), width = BK. M/N-major: rows = k (BK of them), width = BM (BN).
template <int kRows, int kWidth>
struct Tile {
  static constexpr int kStride = kWidth + kPad;
  static constexpr int kElems = kRows * kStride;
  static constexpr int kChunks = kRows * kWidth / 8;  // 16-byte copies per slab
};

__device__ __forceinline__ float bf16_to_float(uint16_t h) { return __uint_as_float(static_cast<uint32_t>(h) << 16); }

// Fills one operand tile of slab `slab`. `rows0` is the tile's first row in the operand's row
// index (m, n or k), `cols0` the first column (k, or m / n); `row_limit`, `col_limit` the matrix
// extents in those indices. kVec: 16-byte cp.async (zero-filling past the limits); else element
// loads and a 16-byte shared store.
template <int kRows, int kWidth, int kThreads, bool kVec>
__device__ __forceinline__ void load_tile(uint16_t* tile, const uint16_t* src, int64_t ld, int64_t rows0, int64_t cols0,
                                          int64_t row_limit, int64_t col_limit, int tid) {
  using T = Tile<kRows, kWidth>;
  static_assert(T::kChunks % kThreads == 0, "every thread copies the same number of chunks");
#pragma unroll
  for (int i = 0; i < T::kChunks / kThreads; ++i) {
    const int chunk = tid + i * kThreads;
    const int row = chunk / (kWidth / 8), col = (chunk % (kWidth / 8)) * 8;
    const int64_t gr = rows0 + row, gc = cols0 + col;
    uint16_t* dst = tile + row * T::kStride + col;
    const bool row_ok = gr < row_limit;
    const int64_t left = row_ok ? col_limit - gc : 0;
    const int valid = left <= 0 ? 0 : (left >= 8 ? 8 : static_cast<int>(left));
    if constexpr (kVec) {
      cp_async_16(dst, valid > 0 ? src + gr * ld + gc : src, valid * 2);
    } else {
      uint16_t v[8];
#pragma unroll
      for (int e = 0; e < 8; ++e) v[e] = e < valid ? __ldg(src + gr * ld + gc + e) : uint16_t{0};
      uint4 packed;
      packed.x = v[0] | (static_cast<uint32_t>(v[1]) << 16);
      packed.y = v[2] | (static_cast<uint32_t>(v[3]) << 16);
      packed.z = v[4] | (static_cast<uint32_t>(v[5]) << 16);
      packed.w = v[6] | (static_cast<uint32_t>(v[7]) << 16);
      *reinterpret_cast<uint4*>(dst) = packed;
    }
  }
}

template <int BM, int BN, int kWarpsM, int kWarpsN, bool kATrans, bool kBTrans, bool kVec>
struct Config {
  static constexpr int kThreads = 32 * kWarpsM * kWarpsN;
  static constexpr int WM = BM / kWarpsM, WN = BN / kWarpsN;
  static constexpr int MI = WM / 16, NI = WN / 8;
  using TileA = std::conditional_t<kATrans, Tile<BK, BM>, Tile<BM, BK>>;
  using TileB = std::conditional_t<kBTrans, Tile<BN, BK>, Tile<BK, BN>>;
  static constexpr int kStageElems = TileA::kElems + TileB::kElems;
  static constexpr size_t kSharedBytes = size_t{kStages} * kStageElems * sizeof(uint16_t);
  static_assert(WM % 16 == 0 && WN % 16 == 0, "warp tiles are multiples of 16x16");
};

// kGlu: the SwiGLU epilogue (g.gate, g.glu); a separate instantiation, so the plain GEMMs' epilogue
// (and register budget) is unchanged.
template <int BM, int BN, int kWarpsM, int kWarpsN, bool kATrans, bool kBTrans, bool kVec, bool kGlu>
__global__ void __launch_bounds__(32 * kWarpsM * kWarpsN)
gemm_bf16_kernel(const GemmBf16 g) {
  using Cfg = Config<BM, BN, kWarpsM, kWarpsN, kATrans, kBTrans, kVec>;
  using TileA = typename Cfg::TileA;
  using TileB = typename Cfg::TileB;
  constexpr int kThreads = Cfg::kThreads, MI = Cfg::MI, NI = Cfg::NI;
  STEPRL_DYNAMIC_SHARED(uint16_t, smem);

  const int tid = static_cast<int>(threadIdx.x), lane = tid % 32, warp = tid / 32;
  const int wm0 = (warp / kWarpsN) * Cfg::WM, wn0 = (warp % kWarpsN) * Cfg::WN;
  const int64_t m0 = int64_t{blockIdx.x} * BM, n0 = int64_t{blockIdx.y} * BN;
  const int slabs = static_cast<int>(ceil_div(g.K, BK));

  auto load_slab = [&](int stage, int slab) {
    uint16_t* a_tile = smem + stage * Cfg::kStageElems;
    uint16_t* b_tile = a_tile + TileA::kElems;
    const int64_t k0 = int64_t{slab} * BK;
    if constexpr (kATrans) load_tile<BK, BM, kThreads, kVec>(a_tile, g.a, g.lda, k0, m0, g.K, g.M, tid);
    else load_tile<BM, BK, kThreads, kVec>(a_tile, g.a, g.lda, m0, k0, g.M, g.K, tid);
    if constexpr (kBTrans) load_tile<BN, BK, kThreads, kVec>(b_tile, g.b, g.ldb, n0, k0, g.N, g.K, tid);
    else load_tile<BK, BN, kThreads, kVec>(b_tile, g.b, g.ldb, k0, n0, g.K, g.N, tid);
  };

  float acc[MI][NI][4];
#pragma unroll
  for (int i = 0; i < MI; ++i)
#pragma unroll
    for (int j = 0; j < NI; ++j)
#pragma unroll
      for (int q = 0; q < 4; ++q) acc[i][j][q] = 0.0f;

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < slabs) load_slab(s, s);
    cp_async_commit();  // empty groups keep the count uniform
  }
  for (int s = 0; s < slabs; ++s) {
    cp_async_wait<kStages - 2>();  // this thread's copies of slab s have landed
    __syncthreads();               // everyone's have; and everyone is done with slab s - 1
    if (s + kStages - 1 < slabs) load_slab((s + kStages - 1) % kStages, s + kStages - 1);
    cp_async_commit();
    const uint16_t* a_tile = smem + (s % kStages) * Cfg::kStageElems;
    const uint16_t* b_tile = a_tile + TileA::kElems;
#pragma unroll
    for (int kk = 0; kk < BK; kk += 16) {
      uint32_t af[MI][4], bf[NI][2];
#pragma unroll
      for (int i = 0; i < MI; ++i) {
        if constexpr (kATrans) {  // rows k, columns m: the transposed 8x8 blocks
          const int k = kk + lane % 8 + ((lane / 16) & 1) * 8, m = wm0 + i * 16 + ((lane / 8) & 1) * 8;
          ldmatrix_x4_trans(af[i], a_tile + k * TileA::kStride + m);
        } else {  // rows m, columns k
          const int m = wm0 + i * 16 + lane % 16, k = kk + (lane / 16) * 8;
          ldmatrix_x4(af[i], a_tile + m * TileA::kStride + k);
        }
      }
#pragma unroll
      for (int p = 0; p < NI / 2; ++p) {
        uint32_t r[4];
        if constexpr (kBTrans) {  // rows n, columns k
          const int n = wn0 + p * 16 + lane % 8 + (lane / 16) * 8, k = kk + ((lane / 8) & 1) * 8;
          ldmatrix_x4(r, b_tile + n * TileB::kStride + k);
        } else {  // rows k, columns n
          const int k = kk + lane % 8 + ((lane / 8) & 1) * 8, n = wn0 + p * 16 + (lane / 16) * 8;
          ldmatrix_x4_trans(r, b_tile + k * TileB::kStride + n);
        }
        bf[2 * p][0] = r[0], bf[2 * p][1] = r[1], bf[2 * p + 1][0] = r[2], bf[2 * p + 1][1] = r[3];
      }
#pragma unroll
      for (int i = 0; i < MI; ++i)
#pragma unroll
        for (int j = 0; j < NI; ++j) mma_m16n8k16_bf16_f32(acc[i][j], af[i], bf[j], acc[i][j]);
    }
  }
  cp_async_wait<0>();  // nothing is left in flight (the trailing groups are empty)

  // Epilogue: c = (acc + bias) + addend (and the SwiGLU product under kGlu). acc[i][j][q]:
  // row g + 8 (q / 2), column 2 t + q % 2.
  const int g4 = lane / 4, t4 = lane % 4;
#pragma unroll
  for (int i = 0; i < MI; ++i) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int64_t m = m0 + wm0 + i * 16 + g4 + half * 8;
      if (m >= g.M) continue;
      float* c_row = g.c + m * g.ldc;
      const float* add_row = g.addend != nullptr ? g.addend + m * g.ldc : nullptr;
#pragma unroll
      for (int j = 0; j < NI; ++j) {
#pragma unroll
        for (int q = 0; q < 2; ++q) {
          const int64_t n = n0 + wn0 + j * 8 + 2 * t4 + q;
          if (n >= g.N) continue;
          float v = acc[i][j][2 * half + q];
          if (g.bias != nullptr) v += __ldg(g.bias + n);
          if (add_row != nullptr) v += add_row[n];
          c_row[n] = v;
          if constexpr (kGlu) g.glu[m * g.ldglu + n] = narrow(silu_forward(__ldg(g.gate + m * g.ldc + n), v));
        }
      }
    }
  }
}

constexpr int64_t kH100Multiprocessors = 132;

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

template <int BM, int BN, int kWarpsM, int kWarpsN, bool kATrans, bool kBTrans, bool kVec, bool kGlu>
void launch_config(const GemmBf16& g) {
  using Cfg = Config<BM, BN, kWarpsM, kWarpsN, kATrans, kBTrans, kVec>;
  auto* kernel = gemm_bf16_kernel<BM, BN, kWarpsM, kWarpsN, kATrans, kBTrans, kVec, kGlu>;
  if (Cfg::kSharedBytes > 48 * 1024) {
    static const bool opted_in = [&] {  // once per instantiation
      STEPRL_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(Cfg::kSharedBytes)));
      return true;
    }();
    (void)opted_in;
  }
  const dim3 grid(static_cast<unsigned>(ceil_div(g.M, BM)), static_cast<unsigned>(ceil_div(g.N, BN)));
  STEPRL_LAUNCH((gemm_bf16_kernel<BM, BN, kWarpsM, kWarpsN, kATrans, kBTrans, kVec, kGlu>), grid, Cfg::kThreads,
                Cfg::kSharedBytes, stream(), g);
}

template <bool kATrans, bool kBTrans, bool kVec, bool kGlu = false>
void launch_gemm(const GemmBf16& g) {
  const bool big = ceil_div(g.M, 128) * ceil_div(g.N, 128) >= kH100Multiprocessors;
  const int64_t bn = big ? 128 : 64, bm = bn;
  if (g.K >= (int64_t{1} << 31) - BK || g.lda >= (int64_t{1} << 27) || g.ldb >= (int64_t{1} << 27))
    throw ArgumentError("K", "Expected matmul sizes below 2^31 (and rows below 2^27 elements) on cuda but received K = " +
                                 std::to_string(g.K));
  if (ceil_div(g.N, bn) > 65535 || ceil_div(g.M, bm) >= (int64_t{1} << 31))
    throw ArgumentError("N", "Expected a matmul of at most " + std::to_string(65535 * bn) +
                                 " output columns on cuda but received " + std::to_string(g.N));
  if (big) launch_config<128, 128, 2, 4, kATrans, kBTrans, kVec, kGlu>(g);
  else launch_config<64, 64, 2, 2, kATrans, kBTrans, kVec, kGlu>(g);
}

// 16-byte copies need every operand row 16-byte aligned: aligned bases and leading dimensions
// that are multiples of 8 bf16.
void gemm(bool a_trans, bool b_trans, const GemmBf16& g) {
  if (g.M <= 0 || g.N <= 0) return;
  const bool vec = aligned16(g.a) && aligned16(g.b) && g.lda % 8 == 0 && g.ldb % 8 == 0;
  if (!a_trans && b_trans) vec ? launch_gemm<false, true, true>(g) : launch_gemm<false, true, false>(g);
  else if (!a_trans && !b_trans) vec ? launch_gemm<false, false, true>(g) : launch_gemm<false, false, false>(g);
  else if (a_trans && !b_trans) vec ? launch_gemm<true, false, true>(g) : launch_gemm<true, false, false>(g);
  else throw ArgumentError("layout", "steprl: no CUDA bf16 GEMM for A^T . B^T");
}

struct DbiasTermBf16 {
  const uint16_t* dout;  // [N,OC] bf16
  int64_t OC;
  __device__ __forceinline__ float4 vec(int64_t n, int64_t c) const {  // 4 bf16 = 8 bytes, aligned
    const uint2 v = __ldg(reinterpret_cast<const uint2*>(dout + n * OC + c));
    return make_float4(__uint_as_float(v.x << 16), __uint_as_float(v.x & 0xffff0000u), __uint_as_float(v.y << 16),
                       __uint_as_float(v.y & 0xffff0000u));
  }
  __device__ __forceinline__ float one(int64_t n, int64_t c) const { return bf16_to_float(__ldg(dout + n * OC + c)); }
};

}  // namespace

void matmul_bf16_forward_cuda(const MatmulBf16ForwardArgs& a) {
  gemm(false, true, GemmBf16{a.inp, a.weight, a.out, a.bias, a.residual, a.C, a.C, a.OC, a.N, a.OC, a.C});
}

// gu[:, :F] = inp . weight[:F]^T, then gu[:, F:] = inp . weight[F:]^T with the SwiGLU epilogue
// writing s = bf16(silu(gate) * up): two GEMMs of F columns each (the second reads the gate the
// first wrote, in stream order), each output element summed in the order of the one 2F-column GEMM.
void matmul_bf16_swiglu_cuda(const MatmulBf16SwigluArgs& a) {
  if (a.N <= 0 || a.F <= 0) return;
  gemm(false, true, GemmBf16{a.inp, a.weight, a.gu, nullptr, nullptr, a.C, a.C, 2 * a.F, a.N, a.F, a.C});
  GemmBf16 up{a.inp, a.weight + a.F * a.C, a.gu + a.F, nullptr, nullptr, a.C, a.C, 2 * a.F, a.N, a.F, a.C};
  up.gate = a.gu;
  up.glu = a.s;
  up.ldglu = a.F;
  if (aligned16(up.a) && aligned16(up.b) && up.lda % 8 == 0 && up.ldb % 8 == 0) launch_gemm<false, true, true, true>(up);
  else launch_gemm<false, true, false, true>(up);
}

void matmul_bf16_backward_cuda(const MatmulBf16BackwardArgs& a) {
  if (a.dinp != nullptr)  // [N,C] += dout[N,OC] . weight[OC,C]
    gemm(false, false, GemmBf16{a.dout, a.weight, a.dinp, nullptr, a.dinp, a.OC, a.C, a.C, a.N, a.C, a.OC});
  if (a.dweight != nullptr)  // [OC,C] += dout^T . inp[N,C]
    gemm(true, false, GemmBf16{a.dout, a.inp, a.dweight, nullptr, a.dweight, a.OC, a.C, a.C, a.OC, a.C, a.N});
  if (a.dbias != nullptr) {
    const bool vec = reinterpret_cast<std::uintptr_t>(a.dout) % 8 == 0 && a.OC % 4 == 0;
    column_sum::add_column_sums(a.dbias, DbiasTermBf16{a.dout, a.OC}, a.N, a.OC, vec);
  }
}

}  // namespace steprl::cuda
