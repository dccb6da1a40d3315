// rope.h: launchers of the rotary-embedding CUDA kernels (cuda/rope.cu), callable from host code
// that includes no CUDA header (native/ops/rope.cc). Semantics of native/cpu/rope.h (HF
// apply_rotary_pos_emb with rotate_half; element i of a head pairs with i + D/2):
//   a = fl32(position * inv_freq_i),  y_i = x_i cos a - x_{i+D/2} sin a,  y_{i+D/2} = x_{i+D/2} cos a + x_i sin a
// with cos/sin of the fp32 angle evaluated in double and rounded once, as the CPU does. The
// backward rotates by -a. inv_freq always comes from the caller (the glue computes HF's fp32
// frequencies on the host with the CPU's own function when the user gives none).
#pragma once

#include <cstdint>

#include "../include/steprl/rope.h"

namespace steprl::cuda {

void rope_cuda(const RopeArgs& args);

}  // namespace steprl::cuda
