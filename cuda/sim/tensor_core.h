// tensor_core.h: the simulator's tensor-core and asynchronous-copy instructions (tensor_core.cc),
// called by the device wrappers of cuda/tensor_core.cuh in simulator builds.
//
// mma and ldmatrix are warp collectives: every one of the 32 lanes must call them (.sync.aligned),
// each lane deposits its operands (fragment registers, a row address), the warp meets, each lane
// reads what the PTX ISA's fragment layout gives it from the other lanes' deposits, and the warp
// meets again before anyone may reuse its deposit. cp.async is per thread: each copy is queued,
// its destination filled with 0xff bytes (NaN) at once, and performed only when its commit group
// retires in cp_async_wait_group, so a kernel that reads shared memory before waiting reads NaN.
#pragma once

#include <cstdint>

namespace steprl_sim {

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32: D = A . B + C for this warp's fragments.
// Products are exact; the 16 products and c are summed in double and rounded once to fp32.
void mma_m16n8k16_bf16_f32(float d[4], const std::uint32_t a[4], const std::uint32_t b[2], const float c[4]);

// ldmatrix.sync.aligned.m8n8.x{count}[.trans].shared.b16: lane 8 i + r gives the address of row r
// of matrix i (16 bytes, 16-byte aligned); r[i] receives this lane's 32-bit fragment of matrix i.
void ldmatrix(std::uint32_t* r, int count, bool trans, const void* row_address);

// cp.async.cg.shared.global [dst], [src], 16, src_bytes: src_bytes (0..16) bytes are read, the
// rest of the 16 destination bytes become zero.
void cp_async_16(void* shared_dst, const void* global_src, int src_bytes);
void cp_async_commit();                // cp.async.commit_group
void cp_async_wait_group(int pending);  // cp.async.wait_group: at most `pending` groups stay in flight

}  // namespace steprl_sim
