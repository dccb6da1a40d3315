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

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
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

}  // namespace steprl::cpu
