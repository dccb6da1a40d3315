// matmul.cc: sgemm driver: C = alpha * op(A) * op(B) + beta * C (row-major, cblas semantics).
//
// Loop nest after Goto / BLIS: K is cut into kc-slices (in order) and N into nc-slices; per
// slice, op(B) is packed into NR-column panels shared by all threads, and each task takes a range
// of rows of C, packs its rows of op(A) into MR-row panels in a thread-local buffer (only when A
// is transposed: an untransposed A is k-contiguous per row and read in place) and runs the
// micro-kernel of the active SIMD level (matmul_simd.inl, compiled in isa_avx512.cc and
// isa_avx2.cc, or the scalar one below). Each slice is one pool job that also packs the next slice's B. K is never split across
// threads and its slicing depends only on K, so every element sums its products in one fixed
// order: results are bit-identical for any thread count.
#include "matmul.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

#include "parallel.h"
#include "simd.h"

namespace steprl::cpu {
namespace {

// Sizes for Zen 4/5 class cores (48 KiB L1d, 1 MiB L2 per core, shared L3); measured, not
// sensitive within a factor of ~2.
constexpr int64_t kKC = 1024;               // K slice: an MR x kc A micro-panel (24 KiB) in L1
constexpr int64_t kBFloats = 1 << 20;       // kc x nc floats of packed B per slice (4 MiB, L3)
constexpr int64_t kL2FloatsB = 128 * 1024;  // kc x nt floats of packed B a task keeps in L2
constexpr int64_t kL2FloatsA = 64 * 1024;   // rows x kc floats of packed A a task keeps in L2
constexpr int64_t kTasksPerThread = 4;      // tasks per slice and thread, for load balance
constexpr int64_t kSerialFlops = 1 << 19;   // below this, threads cost more than they save
// sgemm swaps the operands of a transposed B when C has at most kSwapMaxRows rows, B at least
// kSwapMinRatio times as many and at least kSwapMinFloatsB floats (bench/native/matmul_bench_main.cc,
// rows "dec ...", measured the crossover; -D STEPRL_SGEMM_SWAP_MAX_ROWS=0 builds without the swap).
#ifndef STEPRL_SGEMM_SWAP_MAX_ROWS
#define STEPRL_SGEMM_SWAP_MAX_ROWS 128
#endif
constexpr int64_t kSwapMaxRows = STEPRL_SGEMM_SWAP_MAX_ROWS;
constexpr int64_t kSwapMinRatio = 4;
constexpr int64_t kSwapMinFloatsB = int64_t{1} << 18;
constexpr int64_t kSwapChunkFloats = int64_t{1} << 18;  // C^T per chunk of B's rows (1 MiB, L2)

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// A grow-only 64-byte-aligned scratch area; one per thread and role, reused across calls.
class PackBuffer {
 public:
  ~PackBuffer() { std::free(data_); }
  float* reserve(int64_t floats) {
    const size_t bytes = static_cast<size_t>(round_up(std::max<int64_t>(floats, 16) * 4, 64));
    if (bytes > capacity_) {
      std::free(data_);
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (data_ == nullptr) throw std::bad_alloc();
      capacity_ = bytes;
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

thread_local PackBuffer a_buffer;
thread_local PackBuffer b_buffers[2];
thread_local PackBuffer swap_buffer;  // sgemm's C^T chunk when it swaps the operands

// ---------------------------------------------------------------------------------------------
// Scalar micro-kernel: the portable fallback and the readable statement of what the SIMD ones do.

constexpr int kScalarMR = 4;
constexpr int kScalarNR = 8;

void pack_a_trans_scalar(float* dst, const float* src, int64_t lda, int64_t rows, int64_t kc) {
  for (int64_t p = 0; p * kScalarMR < rows; ++p)
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t i = 0; i < kScalarMR; ++i) {
        const int64_t r = p * kScalarMR + i;
        dst[p * kScalarMR * kc + k * kScalarMR + i] = r < rows ? src[k * lda + r] : 0.0f;
      }
}

void pack_b_scalar(float* dst, const float* src, int64_t ldb, bool trans, int64_t cols,
                   int64_t kc) {
  for (int64_t q = 0; q * kScalarNR < cols; ++q)
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t j = 0; j < kScalarNR; ++j) {
        const int64_t c = q * kScalarNR + j;
        dst[q * kScalarNR * kc + k * kScalarNR + j] =
            c >= cols ? 0.0f : trans ? src[c * ldb + k] : src[k * ldb + c];
      }
}

void compute_scalar(const detail::GemmBlock& blk) {
  for (int64_t i = 0; i < blk.m; i += kScalarMR) {
    const int64_t rows = std::min<int64_t>(kScalarMR, blk.m - i);
    const float* a = blk.a + (i / kScalarMR) * blk.a_panel_stride;
    for (int64_t j = 0; j < blk.n; j += kScalarNR) {
      const int64_t cols = std::min<int64_t>(kScalarNR, blk.n - j);
      const float* b = blk.b_packed + j * blk.kc;
      // Fixed trip counts (rows past the edge multiply zeros) so the compiler keeps acc in
      // registers and vectorizes the c loop for whatever baseline SIMD the target has.
      float acc[kScalarMR][kScalarNR] = {};
      for (int64_t k = 0; k < blk.kc; ++k) {
        float av[kScalarMR];
        for (int r = 0; r < kScalarMR; ++r)
          av[r] = r < rows ? a[r * blk.a_row_stride + k * blk.a_k_stride] : 0.0f;
        for (int r = 0; r < kScalarMR; ++r)
          for (int c = 0; c < kScalarNR; ++c) acc[r][c] += av[r] * b[k * kScalarNR + c];
      }
      for (int64_t r = 0; r < rows; ++r) {
        float* row = blk.c + (i + r) * blk.ldc + j;
        for (int64_t c = 0; c < cols; ++c)
          row[c] = blk.beta == 0.0f ? blk.alpha * acc[r][c]
                                    : blk.alpha * acc[r][c] + blk.beta * row[c];
      }
    }
  }
}

detail::GemmKernel select_kernel() {
#if defined(STEPRL_X86)
  switch (simd_level()) {
    case SimdLevel::avx512: return detail::sgemm_kernel_avx512();
    case SimdLevel::avx2: return detail::sgemm_kernel_avx2();
    default: break;
  }
#endif
  return {kScalarMR, kScalarNR, pack_a_trans_scalar, pack_b_scalar, compute_scalar};
}

// Waiting for another thread's packing, which takes microseconds: pause, and only after a
// while give the core away.
void spin_pause(int spins) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (spins < 4096) {
    __builtin_ia32_pause();
    return;
  }
#endif
  (void)spins;
  std::this_thread::yield();
}

// C = beta * C, with beta == 0 writing zeros (the K == 0 / alpha == 0 case).
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    float* row = C + i * ldc;
    if (beta == 0.0f) std::memset(row, 0, static_cast<size_t>(N) * sizeof(float));
    else if (beta != 1.0f) for (int64_t j = 0; j < N; ++j) row[j] *= beta;
  }
}

// The blocked GEMM (the loop nest in the header comment), for the shapes sgemm does not swap.
void sgemm_blocked(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                   int64_t ldc) {
  const detail::GemmKernel kernel = select_kernel();
  const int64_t mr = kernel.mr, nr = kernel.nr;
  const bool serial = 2.0 * M * N * K < kSerialFlops;

  // Slices: kc of K times nc of N, run in order, K outer. The K cuts are even and depend on K
  // alone, so every element sums its products in one order on any thread count.
  const int64_t kc_max = ceil_div(K, ceil_div(K, kKC));
  const int64_t nc_max = std::min(N, std::max<int64_t>(nr, kBFloats / kc_max / nr * nr));
  const int64_t n_slices = ceil_div(N, nc_max), slices = ceil_div(K, kc_max) * n_slices;
  auto pc_of = [&](int64_t q) { return q / n_slices * kc_max; };
  auto jc_of = [&](int64_t q) { return q % n_slices * nc_max; };
  auto kc_of = [&](int64_t q) { return std::min(kc_max, K - pc_of(q)); };
  auto nc_of = [&](int64_t q) { return std::min(nc_max, N - jc_of(q)); };

  // Packed B of slice q lives in buffer q % 2: slice q's pool job also packs slice q + 1.
  const int64_t b_floats = kc_max * round_up(nc_max, nr);
  float* b_packed[2] = {b_buffers[0].reserve(b_floats),
                        slices > 1 ? b_buffers[1].reserve(b_floats) : nullptr};
  auto pack_b_panel = [&](int64_t q, int64_t panel) {  // columns [j, j + nr) of slice q
    const int64_t pc = pc_of(q), jc = jc_of(q), kc = kc_of(q), j = panel * nr;
    const float* src = trans_b ? B + (jc + j) * ldb + pc : B + pc * ldb + jc + j;
    kernel.pack_b(b_packed[q % 2] + j * kc, src, ldb, trans_b, std::min(nr, nc_of(q) - j), kc);
  };

  // Tasks: row ranges of C (their packed A, at most mc_max_panels panels, stays in L2), split
  // into column ranges only when rows alone give too few tasks; both in whole panels, spread
  // evenly. Within a task, nt columns of packed B at a time stay in L2. (The split depends on the
  // thread count, which is fine: it never changes any element's summation order.)
  const int64_t target_tasks = kTasksPerThread * num_threads();
  const int64_t panels_m = ceil_div(M, mr);
  const int64_t mc_max_panels = std::max<int64_t>(1, kL2FloatsA / kc_max / mr);
  const int64_t tiles_m =
      std::min(panels_m, std::max(target_tasks, ceil_div(panels_m, mc_max_panels)));
  const int64_t nt = std::max(nr, kL2FloatsB / kc_max / nr * nr);
  auto tiles_n_of = [&](int64_t q) {
    return tiles_m >= target_tasks ? 1
        : std::min(ceil_div(nc_of(q), nr), ceil_div(target_tasks, tiles_m));
  };
  auto compute_task = [&](int64_t q, int64_t task) {
    const int64_t pc = pc_of(q), jc = jc_of(q), kc = kc_of(q), nc = nc_of(q);
    const int64_t tiles_n = tiles_n_of(q), panels_n = ceil_div(nc, nr);
    const int64_t tm = task / tiles_n, tn = task % tiles_n;
    const int64_t i = tm * panels_m / tiles_m * mr;
    const int64_t i_end = std::min(M, (tm + 1) * panels_m / tiles_m * mr);
    const int64_t j = tn * panels_n / tiles_n * nr;
    const int64_t j_end = std::min(nc, (tn + 1) * panels_n / tiles_n * nr);
    detail::GemmBlock blk;
    blk.m = i_end - i;
    if (trans_a) {  // pack rows [i, i + m) of op(A)[:, pc:] into this thread's buffer
      float* a_packed = a_buffer.reserve(round_up(blk.m, mr) * kc_max);
      kernel.pack_a_trans(a_packed, A + pc * lda + i, lda, blk.m, kc);
      blk.a = a_packed;
      blk.a_panel_stride = mr * kc;
      blk.a_row_stride = 1;
      blk.a_k_stride = mr;
    } else {  // an untransposed A is read in place
      blk.a = A + i * lda + pc;
      blk.a_panel_stride = mr * lda;
      blk.a_row_stride = lda;
      blk.a_k_stride = 1;
    }
    blk.ldc = ldc;
    blk.kc = kc;
    blk.alpha = alpha;
    blk.beta = pc == 0 ? beta : 1.0f;  // later K slices accumulate onto C
    for (int64_t jj = j; jj < j_end; jj += nt) {
      blk.b_packed = b_packed[q % 2] + jj * kc;
      blk.c = C + i * ldc + jc + jj;
      blk.n = std::min(nt, j_end - jj);
      kernel.compute(blk);
    }
  };

  // One pool job per slice (a job costs a thread wake-up, not negligible next to a small GEMM):
  // [pack B of slice 0, first job only] [compute tasks] [pack B of slice q + 1]. Tasks are
  // claimed in index order, so a compute task only waits for packing already under way; the next
  // slice's packing fills the tail where threads would otherwise idle.
  for (int64_t q = 0; q < slices; ++q) {
    const int64_t head = q == 0 ? ceil_div(nc_of(q), nr) : 0;
    const int64_t tasks = tiles_m * tiles_n_of(q);
    const int64_t tail = q + 1 < slices ? ceil_div(nc_of(q + 1), nr) : 0;
    const int64_t total = head + tasks + tail;
    std::atomic<int64_t> packed{0};
    parallel_for(total, serial ? total : 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        if (t < head) {
          pack_b_panel(q, t);
          packed.fetch_add(1, std::memory_order_release);
        } else if (t < head + tasks) {
          for (int spins = 0; packed.load(std::memory_order_acquire) < head; ++spins)
            spin_pause(spins);
          compute_task(q, t - head);
        } else {
          pack_b_panel(q + 1, t - head - tasks);
        }
      }
    });
  }
}

// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols, in parallel over 64 x 64 blocks.
void transpose(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
  constexpr int64_t kBlock = 64;
  const int64_t blocks_r = ceil_div(rows, kBlock), blocks_c = ceil_div(cols, kBlock);
  const bool serial = rows * cols < kSerialFlops / 8;
  parallel_for(blocks_r * blocks_c, serial ? blocks_r * blocks_c : 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t i0 = t / blocks_c * kBlock, j0 = t % blocks_c * kBlock;
      const int64_t i1 = std::min(rows, i0 + kBlock), j1 = std::min(cols, j0 + kBlock);
      for (int64_t i = i0; i < i1; i += 8)  // 8 x 8 tiles: 8 source rows, written 8 floats at a time
        for (int64_t j = j0; j < j1; ++j)
          for (int64_t r = i; r < std::min(i1, i + 8); ++r) dst[j * ldd + r] = src[r * lds + j];
    }
  });
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  // Few rows of C against a large transposed B (a decode step's activations times a weight stored
  // [N, K]): the blocked GEMM would re-pack all of B, a pass that costs as much as the few FMAs per
  // element of B it serves. Instead compute C^T = op(B)^T op(A)^T, where op(B)^T is B as stored
  // (k-contiguous rows, read in place as an untransposed A) and only the small op(A)^T is packed,
  // a chunk of B's rows at a time into a cache-sized buffer that is then transposed into C. Every
  // element of C gets the same FMAs in the same k order (the kernel, the K slices and beta's
  // handling are those of the blocked path, and a * b == b * a exactly), so the result is
  // bit-identical to the blocked path's.
  if (trans_b && M <= kSwapMaxRows && N >= kSwapMinRatio * M && N * K >= kSwapMinFloatsB) {
    const int64_t chunk = std::min(N, std::max<int64_t>(kSwapChunkFloats / M, 64));
    float* ct = swap_buffer.reserve(chunk * M);
    for (int64_t n0 = 0; n0 < N; n0 += chunk) {
      const int64_t rows = std::min(chunk, N - n0);
      if (beta != 0.0f) transpose(C + n0, ldc, M, rows, ct, M);
      sgemm_blocked(false, !trans_a, rows, M, K, alpha, B + n0 * ldb, ldb, A, lda, beta, ct, M);
      transpose(ct, M, rows, M, C + n0, ldc);
    }
    return;
  }
  sgemm_blocked(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace steprl::cpu
