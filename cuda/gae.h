// gae.h: launcher of the gae CUDA kernels (cuda/gae.cu), callable from host code that includes no
// CUDA header (native/ops/gae.cc). Semantics are those of native/cpu/gae.h (ALGORITHMS.md §1.8):
// δ_t = r_t + γV_{t+1} − V_t on masked r and V, Â_t = δ_t + γλÂ_{t+1}, returns = (Â + V)·m, then
// optionally TRL's masked whitening over the batch (float64 statistics, Bessel, +1e-8).
#pragma once

#include <cstdint>

#include "../include/steprl/gae.h"

namespace steprl::cuda {

// Queues the kernels and waits for them; a mask value other than 0 or 1 throws the TypeScript
// layer's ArgumentError with its first index.
void gae_cuda(const GaeArgs& args);

}  // namespace steprl::cuda
