// tensor_core.cuh: the sm_80+ tensor-core and asynchronous-copy instructions steprl kernels use,
// as small device functions. Under nvcc they are inline PTX; under the simulator
// (STEPRL_CUDA_SIM) they call cuda/sim/tensor_core.cc, which implements them as warp collectives
// from the PTX ISA's fragment layouts, so the same kernel source runs in both.
//   mma_m16n8k16_bf16_f32  mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 (D = A.B + C)
//   ldmatrix_x1/x2/x4[_trans]  ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16
//   cp_async_16            cp.async.cg.shared.global, 16 bytes, src_bytes < 16 zero-fills the rest
//   cp_async_commit / cp_async_wait<N>  cp.async.commit_group / cp.async.wait_group N
// Fragments (lane l, g = l / 4, t = l % 4; two b16 per .b32 register, lower index in the low half):
//   A 16x16 row-major: a[r] = (row g + 8 (r & 1), cols 2t, 2t+1 + 8 (r >> 1))
//   B 16x8 col-major:  b[r] = (rows 2t, 2t+1 + 8 r, col g)
//   C/D 16x8 fp32:     c[i] = (row g + 8 (i >> 1), col 2t + (i & 1))
//   ldmatrix: lanes 8i..8i+7 give the 16-byte row addresses of matrix i (shared memory, 16-byte
//   aligned); r[i] = row g, cols 2t, 2t+1 of matrix i, or with .trans rows 2t, 2t+1 of col g.
// All of mma/ldmatrix must be reached by all 32 lanes of a warp with the same instruction.
#pragma once

#include <cstdint>

#include "common.cuh"

#if defined(STEPRL_CUDA_SIM)
#include "sim/tensor_core.h"
#endif

namespace steprl {

__device__ __forceinline__ void mma_m16n8k16_bf16_f32(float d[4], const uint32_t a[4], const uint32_t b[2],
                                                      const float c[4]) {
#if defined(STEPRL_CUDA_SIM)
  ::steprl_sim::mma_m16n8k16_bf16_f32(d, a, b, c);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#endif
}

#if !defined(STEPRL_CUDA_SIM)
__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
#endif

__device__ __forceinline__ void ldmatrix_x1(uint32_t r[1], const void* row) {
#if defined(STEPRL_CUDA_SIM)
  ::steprl_sim::ldmatrix(r, 1, false, row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(shared_address(row)) : "memory");
#endif
}
__device__ __forceinline__ void ldmatrix_x2(uint32_t r[2], const void* row) {
#if defined(STEPRL_CUDA_SIM)
  ::steprl_sim::ldmatrix(r, 2, false, row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1]) : "r"(shared_address(row)) : "memory");
#endif
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void* row) {
#if defined(STEPRL_CUDA_SIM)
  ::steprl_sim::ldmatrix(r, 4, false, row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(shared_address(row)) : "memory");
#endif
}
__device__ __forceinline__ void ldmatrix_x1_trans(uint32_t r[1], const void* row) {
#if defined(STEPRL_CUDA_SIM)
  ::steprl_sim::ldmatrix(r, 1, true, row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n"
               : "=r"(r[0]) : "r"(shared_address(row)) : "memory");
#endif
}
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t r[2], const void* row) {
#if defined(STEPRL_CUDA_SIM)
  ::steprl_sim::ldmatrix(r, 2, true, row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1]) : "r"(shared_address(row)) : "memory");
#endif
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void* row) {
#if defined(STEPRL_CUDA_SIM)
  ::steprl_sim::ldmatrix(r, 4, true, row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(shared_address(row)) : "memory");
#endif
}

// 16 bytes global -> shared, bypassing L1 (.cg). src_bytes in [0, 16]: only that many bytes are
// read and the rest of the 16 are zero-filled (0 reads nothing: `src` need not be valid then).
// Both addresses 16-byte aligned. The data may be read only after cp_async_wait retires its group.
__device__ __forceinline__ void cp_async_16(void* dst_shared, const void* src_global, int src_bytes = 16) {
#if defined(STEPRL_CUDA_SIM)
  ::steprl_sim::cp_async_16(dst_shared, src_global, src_bytes);
#else
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
               :: "r"(shared_address(dst_shared)), "l"(src_global), "r"(src_bytes) : "memory");
#endif
}

// Closes the group of this thread's cp.async issued since the last commit.
__device__ __forceinline__ void cp_async_commit() {
#if defined(STEPRL_CUDA_SIM)
  ::steprl_sim::cp_async_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// Waits until at most N of this thread's committed groups are still in flight. Other threads see
// the data only after a __syncthreads that follows their producers' waits.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  static_assert(N >= 0 && N <= 7, "cp.async.wait_group takes 0..7 here");
#if defined(STEPRL_CUDA_SIM)
  ::steprl_sim::cp_async_wait_group(N);
#else
  asm volatile("cp.async.wait_group %0;\n" :: "n"(N) : "memory");
#endif
}

}  // namespace steprl
