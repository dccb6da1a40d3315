// sim.h: everything cuda/common.cuh needs from the SIMT simulator when STEPRL_CUDA_SIM is defined.
//
// Kernels never include this directly: common.cuh includes it in simulator builds in place of
// <cuda_runtime.h> and <cuda_bf16.h>. See README.md in this folder for what is simulated.
#pragma once

#include "types.h"    // dim3, float4 & co., __nv_bfloat16
#include "device.h"   // qualifiers, threadIdx & co., barriers, shuffles, atomics, intrinsics
#include "runtime.h"  // cudaMalloc & co., errors, streams, steprl_sim::launch
