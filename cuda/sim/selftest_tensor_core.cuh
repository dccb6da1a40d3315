// selftest_tensor_core.cuh: checks of cuda/tensor_core.cuh (the simulator's mma.sync, ldmatrix and
// cp.async) against the PTX ISA's fragment tables, included by selftest.cu.
//
// The tables are written out here a second time, independently of cuda/sim/tensor_core.cc, as the
// ISA states them (lane l, g = l / 4, t = l % 4):
//   A 16x16: element (row, col) sits in lane 4 (row % 8) + (col % 8) / 2, register
//            (row / 8) + 2 (col / 8), half col % 2
//   B 16x8:  element (k, n) sits in lane 4 n + (k % 8) / 2, register k / 8, half k % 2
//   C/D:     element (row, col) sits in lane 4 (row % 8) + col / 2, register 2 (row / 8) + col % 2
// Each A (B) element is given a distinct value naming its fragment slot; an mma with a one-hot B
// (A) then copies column kk of A (row kk of B) into D, and the host checks every slot landed at the
// (row, col) the table names. Then a random product, ldmatrix x1/x2/x4 (.trans) against the
// ldmatrix table, and cp.async: zero-fill, a kernel that forgets cp.async.wait_group must read
// NaN, and misuse (partial warps, mixed instructions, misaligned rows) must fault.
#pragma once

#include "../tensor_core.cuh"
#include "selftest_harness.h"

namespace selftest {

using namespace steprl;

struct FragSlot { int lane, reg, half; };
inline FragSlot a_slot(int row, int col) { return {4 * (row % 8) + (col % 8) / 2, row / 8 + 2 * (col / 8), col % 2}; }
inline FragSlot b_slot(int k, int n) { return {4 * n + (k % 8) / 2, k / 8, k % 2}; }
inline FragSlot cd_slot(int row, int col) { return {4 * (row % 8) + col / 2, 2 * (row / 8) + col % 2, 0}; }

__device__ __forceinline__ uint32_t pack_bf16(uint16_t lo, uint16_t hi) { return lo | (uint32_t(hi) << 16); }

// Loads fragments from row-major a[16][16], b[16][8], c[16][8] by the table, multiplies, stores
// D row-major into d[16][8]. One warp.
__global__ void mma_tile_kernel(float* d, const uint16_t* a, const uint16_t* b, const float* c) {
  const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
  uint32_t af[4], bf[2];
  float cf[4], df[4];
  for (int r = 0; r < 4; ++r) {  // a[r]: row g + 8 (r & 1), cols 2t + 8 (r >> 1) (+1)
    const int row = g + 8 * (r & 1), col = 2 * t + 8 * (r >> 1);
    af[r] = pack_bf16(a[row * 16 + col], a[row * 16 + col + 1]);
  }
  for (int r = 0; r < 2; ++r) {  // b[r]: rows 2t + 8 r (+1), col g
    const int k = 2 * t + 8 * r;
    bf[r] = pack_bf16(b[k * 8 + g], b[(k + 1) * 8 + g]);
  }
  for (int i = 0; i < 4; ++i) cf[i] = c[(g + 8 * (i >> 1)) * 8 + 2 * t + (i & 1)];
  mma_m16n8k16_bf16_f32(df, af, bf, cf);
  for (int i = 0; i < 4; ++i) d[(g + 8 * (i >> 1)) * 8 + 2 * t + (i & 1)] = df[i];
}

// The same with fragments taken straight from per-slot arrays: a_slots[lane][reg] etc. (so the
// kernel makes no layout assumption) and D stored per slot: d_slots[lane][i].
__global__ void mma_slots_kernel(float* d_slots, const uint32_t* a_slots, const uint32_t* b_slots, const float* c_slots) {
  const int lane = threadIdx.x;
  uint32_t af[4] = {a_slots[lane * 4], a_slots[lane * 4 + 1], a_slots[lane * 4 + 2], a_slots[lane * 4 + 3]};
  uint32_t bf[2] = {b_slots[lane * 2], b_slots[lane * 2 + 1]};
  float cf[4] = {c_slots[lane * 4], c_slots[lane * 4 + 1], c_slots[lane * 4 + 2], c_slots[lane * 4 + 3]};
  float df[4];
  mma_m16n8k16_bf16_f32(df, af, bf, cf);
  for (int i = 0; i < 4; ++i) d_slots[lane * 4 + i] = df[i];
}

// Four 8x8 b16 matrices in shared memory, rows 24 elements apart (16-byte aligned, padded); lane
// 8i + r points at stored row perm(r) = (3 r + i) % 8 of matrix i. out[lane][j] = register j.
template <int kCount, bool kTrans>
__global__ void ldmatrix_kernel(uint32_t* out, const uint16_t* matrices) {
  __align__(16) __shared__ uint16_t tile[4][8][24];
  const int lane = threadIdx.x;
  for (int e = lane; e < 4 * 8 * 8; e += 32) tile[e / 64][e / 8 % 8][e % 8] = matrices[e];
  __syncwarp();
  const int i = lane / 8, r = lane % 8;
  const void* row = &tile[i][(3 * r + i) % 8][0];
  uint32_t regs[4] = {0, 0, 0, 0};
  if (kCount == 1) kTrans ? ldmatrix_x1_trans(regs, row) : ldmatrix_x1(regs, row);
  if (kCount == 2) kTrans ? ldmatrix_x2_trans(regs, row) : ldmatrix_x2(regs, row);
  if (kCount == 4) kTrans ? ldmatrix_x4_trans(regs, row) : ldmatrix_x4(regs, row);
  for (int j = 0; j < 4; ++j) out[lane * 4 + j] = regs[j];
}

// Stages n floats (n % 4 may be non-zero: the last chunk zero-fills) through dynamic shared memory
// with cp.async in two commit groups, then copies shared -> out. `mode` 0: waits correctly;
// 1: forgets the wait; 2: waits only for the first group (wait_group 1) before reading both.
__global__ void cp_async_stage_kernel(float* out, const float* in, int n, int mode) {
  STEPRL_DYNAMIC_SHARED(float, stage);
  const int chunks = (n + 3) / 4, half = (chunks + 1) / 2;
  for (int group = 0; group < 2; ++group) {
    for (int c = group * half + static_cast<int>(threadIdx.x); c < (group ? chunks : half); c += blockDim.x) {
      const int valid = n - 4 * c < 4 ? n - 4 * c : 4;
      cp_async_16(stage + 4 * c, in + 4 * c, valid * 4);
    }
    cp_async_commit();
  }
  if (mode == 0) cp_async_wait<0>();
  if (mode == 2) cp_async_wait<1>();
  __syncthreads();
  for (int i = threadIdx.x; i < 4 * chunks; i += blockDim.x) out[i] = stage[i];
}

// Issues more copies than the simulator keeps in flight without ever waiting.
__global__ void cp_async_flood_kernel(const float* in) {
  STEPRL_DYNAMIC_SHARED(float, stage);
  for (int i = 0; i < 65; ++i) cp_async_16(stage + 4 * (i % 4), in);
  cp_async_wait<0>();
}

// Lanes 0-15 reach ldmatrix while lanes 16-31 reach mma: a fault, not a silent mix.
__global__ void mixed_tensor_core_kernel(float* out) {
  __align__(16) __shared__ uint16_t tile[8][8];
  for (int e = threadIdx.x; e < 64; e += blockDim.x) tile[e / 8][e % 8] = 0;
  __syncwarp();
  uint32_t r[1] = {0}, a[4] = {0, 0, 0, 0}, b[2] = {0, 0};
  float c[4] = {0, 0, 0, 0}, d[4];
  if (threadIdx.x < 16) ldmatrix_x1(r, &tile[threadIdx.x % 8][0]);
  else mma_m16n8k16_bf16_f32(d, a, b, c);
  out[threadIdx.x] = float(r[0]);
}

__global__ void misaligned_ldmatrix_kernel(float* out) {
  __align__(16) __shared__ uint16_t tile[8][16];
  for (int e = threadIdx.x; e < 128; e += blockDim.x) tile[e / 16][e % 16] = 0;
  __syncwarp();
  uint32_t r[1];
  ldmatrix_x1(r, &tile[threadIdx.x % 8][threadIdx.x == 3 ? 1 : 0]);
  out[threadIdx.x] = float(r[0]);
}

__global__ void partial_warp_mma_kernel(float* out) {
  uint32_t a[4] = {0, 0, 0, 0}, b[2] = {0, 0};
  float c[4] = {0, 0, 0, 0}, d[4];
  mma_m16n8k16_bf16_f32(d, a, b, c);
  out[threadIdx.x] = d[0];
}

// ---- host side ---------------------------------------------------------------------------------

inline uint16_t bf16_of(float f) { return __bfloat16_as_ushort(__float2bfloat16(f)); }
inline float float_of_bf16(uint16_t h) { return __bfloat162float(__ushort_as_bfloat16(h)); }

static void test_mma_fragment_tables() {
  // A slots: value 1 + 8 lane + 2 reg + half (1..256, exact in bf16). B = one-hot row kk.
  std::vector<uint32_t> a_slots(32 * 4), b_slots(32 * 2);
  std::vector<float> c_slots(32 * 4, 0.0f);
  for (int lane = 0; lane < 32; ++lane)
    for (int reg = 0; reg < 4; ++reg)
      a_slots[lane * 4 + reg] = bf16_of(float(1 + 8 * lane + 2 * reg)) | uint32_t(bf16_of(float(2 + 8 * lane + 2 * reg))) << 16;
  Device<uint32_t> a_d(a_slots), b_d(b_slots.size());
  Device<float> c_d(c_slots), d_d(32 * 4);
  int wrong_a = 0, wrong_b = 0;
  for (int kk = 0; kk < 16; ++kk) {
    std::fill(b_slots.begin(), b_slots.end(), 0u);
    for (int n = 0; n < 8; ++n) {
      const FragSlot s = b_slot(kk, n);
      b_slots[s.lane * 2 + s.reg] |= uint32_t(bf16_of(1.0f)) << (16 * s.half);
    }
    b_d.upload(b_slots);
    STEPRL_LAUNCH(mma_slots_kernel, 1, 32, 0, nullptr, d_d.ptr, a_d.ptr, b_d.ptr, c_d.ptr);
    const auto d = d_d.download();
    for (int row = 0; row < 16; ++row)
      for (int n = 0; n < 8; ++n) {  // D(row, n) = A(row, kk)
        const FragSlot ds = cd_slot(row, n), as = a_slot(row, kk);
        const float want = float(1 + 8 * as.lane + 2 * as.reg + as.half);
        if (d[ds.lane * 4 + ds.reg] != want && ++wrong_a <= 5)
          EXPECT(false, "mma A(%d,%d): D(%d,%d) = %g, the ISA's slot (lane %d reg %d half %d) holds %g", row, kk, row, n,
                 d[ds.lane * 4 + ds.reg], as.lane, as.reg, as.half, want);
      }
  }
  // B slots: value 1 + 4 lane + 2 reg + half; A = one-hot column kk.
  for (int lane = 0; lane < 32; ++lane)
    for (int reg = 0; reg < 2; ++reg)
      b_slots[lane * 2 + reg] = bf16_of(float(1 + 4 * lane + 2 * reg)) | uint32_t(bf16_of(float(2 + 4 * lane + 2 * reg))) << 16;
  b_d.upload(b_slots);
  for (int kk = 0; kk < 16; ++kk) {
    std::fill(a_slots.begin(), a_slots.end(), 0u);
    for (int row = 0; row < 16; ++row) {
      const FragSlot s = a_slot(row, kk);
      a_slots[s.lane * 4 + s.reg] |= uint32_t(bf16_of(1.0f)) << (16 * s.half);
    }
    a_d.upload(a_slots);
    STEPRL_LAUNCH(mma_slots_kernel, 1, 32, 0, nullptr, d_d.ptr, a_d.ptr, b_d.ptr, c_d.ptr);
    const auto d = d_d.download();
    for (int row = 0; row < 16; ++row)
      for (int n = 0; n < 8; ++n) {  // D(row, n) = B(kk, n)
        const FragSlot ds = cd_slot(row, n), bs = b_slot(kk, n);
        const float want = float(1 + 4 * bs.lane + 2 * bs.reg + bs.half);
        if (d[ds.lane * 4 + ds.reg] != want && ++wrong_b <= 5)
          EXPECT(false, "mma B(%d,%d): D(%d,%d) = %g, the ISA's slot (lane %d reg %d half %d) holds %g", kk, n, row, n,
                 d[ds.lane * 4 + ds.reg], bs.lane, bs.reg, bs.half, want);
      }
  }
  EXPECT(wrong_a == 0 && wrong_b == 0, "mma fragment tables: %d A and %d B elements misplaced", wrong_a, wrong_b);
  // C/D: A = B = 0, C slot values pass through to the same slots.
  std::fill(a_slots.begin(), a_slots.end(), 0u);
  a_d.upload(a_slots);
  for (int i = 0; i < 32 * 4; ++i) c_slots[i] = float(i) - 50.0f;
  c_d.upload(c_slots);
  STEPRL_LAUNCH(mma_slots_kernel, 1, 32, 0, nullptr, d_d.ptr, a_d.ptr, b_d.ptr, c_d.ptr);
  EXPECT(d_d.download() == c_slots, "mma with A = 0: D differs from C");
}

static void test_mma_product() {
  Rng rng{77};
  std::vector<uint16_t> a(16 * 16), b(16 * 8);
  std::vector<float> c(16 * 8);
  for (auto& x : a) x = bf16_of(rng.uniform(-2, 2));
  for (auto& x : b) x = bf16_of(rng.uniform(-2, 2));
  for (auto& x : c) x = rng.uniform(-1, 1);
  Device<uint16_t> a_d(a), b_d(b);
  Device<float> c_d(c), d_d(16 * 8);
  STEPRL_LAUNCH(mma_tile_kernel, 1, 32, 0, nullptr, d_d.ptr, a_d.ptr, b_d.ptr, c_d.ptr);
  const auto d = d_d.download();
  int wrong = 0;
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 8; ++j) {
      double want = c[i * 8 + j], mag = std::fabs(want);
      for (int k = 0; k < 16; ++k) {
        const double p = double(float_of_bf16(a[i * 16 + k])) * float_of_bf16(b[k * 8 + j]);
        want += p, mag += std::fabs(p);
      }
      wrong += !(std::fabs(d[i * 8 + j] - want) <= 1e-6 * mag);
    }
  EXPECT(wrong == 0, "mma product 16x16 . 16x8 + C: %d of 128 wrong", wrong);
}

template <int kCount, bool kTrans>
static void check_ldmatrix(const std::vector<uint16_t>& m, Device<uint16_t>& m_d) {
  Device<uint32_t> out(32 * 4);
  STEPRL_LAUNCH((ldmatrix_kernel<kCount, kTrans>), 1, 32, 0, nullptr, out.ptr, m_d.ptr);
  const auto got = out.download();
  auto elem = [&](int i, int lane_row, int col) {  // the row lane 8i + lane_row addressed
    return m[i * 64 + ((3 * lane_row + i) % 8) * 8 + col];
  };
  int wrong = 0;
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int i = 0; i < kCount; ++i) {
      const uint32_t want = kTrans ? pack_bf16(elem(i, 2 * t, g), elem(i, 2 * t + 1, g))
                                   : pack_bf16(elem(i, g, 2 * t), elem(i, g, 2 * t + 1));
      if (got[lane * 4 + i] != want && ++wrong <= 3)
        EXPECT(false, "ldmatrix x%d%s lane %d reg %d: 0x%08x, want 0x%08x", kCount, kTrans ? ".trans" : "", lane, i,
               got[lane * 4 + i], want);
    }
  }
  EXPECT(wrong == 0, "ldmatrix x%d%s: %d registers wrong", kCount, kTrans ? ".trans" : "", wrong);
}

static void test_ldmatrix_tables() {
  std::vector<uint16_t> m(4 * 64);
  for (int e = 0; e < 4 * 64; ++e) m[e] = bf16_of(float(e + 1));
  Device<uint16_t> m_d(m);
  check_ldmatrix<1, false>(m, m_d);
  check_ldmatrix<2, false>(m, m_d);
  check_ldmatrix<4, false>(m, m_d);
  check_ldmatrix<1, true>(m, m_d);
  check_ldmatrix<2, true>(m, m_d);
  check_ldmatrix<4, true>(m, m_d);
}

static void test_cp_async() {
  for (int n : {64, 70, 1001}) {
    const auto host = random_floats(n, n);
    Device<float> in(host), out(((n + 3) / 4) * 4);
    const size_t bytes = out.n * sizeof(float);
    STEPRL_LAUNCH(cp_async_stage_kernel, 1, 64, bytes, nullptr, out.ptr, in.ptr, n, 0);
    auto got = out.download();
    int wrong = 0;
    for (size_t i = 0; i < got.size(); ++i) wrong += got[i] != (int(i) < n ? host[i] : 0.0f);
    EXPECT(wrong == 0, "cp.async n=%d: %d wrong (tail must be zero-filled)", n, wrong);
    STEPRL_LAUNCH(cp_async_stage_kernel, 1, 64, bytes, nullptr, out.ptr, in.ptr, n, 1);
    got = out.download();
    int nan = 0;
    for (float x : got) nan += std::isnan(x);
    EXPECT(nan == int(got.size()), "cp.async without wait_group n=%d: %d of %zu values NaN (all must be)", n, nan, got.size());
    STEPRL_LAUNCH(cp_async_stage_kernel, 1, 64, bytes, nullptr, out.ptr, in.ptr, n, 2);
    got = out.download();
    const int half = ((n + 3) / 4 + 1) / 2 * 4;
    int early_wrong = 0, late_nan = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      if (int(i) < half) early_wrong += got[i] != host[i];
      else late_nan += std::isnan(got[i]);
    }
    EXPECT(early_wrong == 0 && late_nan == int(got.size()) - half,
           "cp.async wait_group 1 n=%d: first group %d wrong, second group %d of %d NaN", n, early_wrong, late_nan,
           int(got.size()) - half);
  }
  Device<float> in(16), out(64);
  in.zero();
  expect_launch_error("cp.async flood", "cp.async copies in flight", [&] {
    STEPRL_LAUNCH(cp_async_flood_kernel, 1, 32, 64, nullptr, in.ptr);
  });
  expect_launch_error("mixed mma/ldmatrix", "different tensor-core instructions", [&] {
    STEPRL_LAUNCH(mixed_tensor_core_kernel, 1, 32, 0, nullptr, out.ptr);
  });
  expect_launch_error("misaligned ldmatrix", "not 16-byte aligned", [&] {
    STEPRL_LAUNCH(misaligned_ldmatrix_kernel, 1, 32, 0, nullptr, out.ptr);
  });
  expect_launch_error("mma in a 16-thread block", "needs all 32 lanes", [&] {
    STEPRL_LAUNCH(partial_warp_mma_kernel, 1, 16, 0, nullptr, out.ptr);
  });
}

static void test_tensor_core() {
  test_mma_fragment_tables();
  test_mma_product();
  test_ldmatrix_tables();
  test_cp_async();
}

}  // namespace selftest
