// steprl/value_loss.h: the whole shared surface of valueLoss, the clipped PPO value loss
// (ALGORITHMS.md §1.8): the arguments, the result and the declarations of both launchers
// (native/cpu/value_loss.cc, cuda/value_loss.cu), so the family needs no per-backend header.
// Per token t of row r whose mask is nonzero, with V = values[r, offset + t], Vold = oldValues[r, t],
// G = returns[r, t] and c = clip (all in float64):
//   Vc = min(max(V, Vold − c), Vold + c),  a = (V − G)²,  b = (Vc − G)²
//   a >= b: l = a/2, g = V − G;  else: l = b/2, g = 0   (the clipped branch has no gradient)
//   loss += coef·l / tokenCount                          (rows in order, t ascending on the cpu)
//   dvalues[r, offset + t] = float32(coef·g / tokenCount); every other element of dvalues is 0.
// This is the arithmetic of the TypeScript loop it replaced, so the cpu gives the same bits.
#pragma once

#include <cstdint>

namespace steprl {

struct ValueLossArgs {
  float* dvalues;            // [R, W]  written whole
  const float* values;       // [R, W]  V; the prediction for response token t is at column offset + t
  const float* old_values;   // [R, T]  Vold (the rollout's values)
  const float* returns;      // [R, T]  G
  const void* mask;          // [R, T]  float32, or uint8 when mask_u8; a token counts where it is nonzero
  bool mask_u8;
  int64_t R, T, W, offset;   // 0 <= offset, offset + T <= W (the glue checks)
  double clip;               // c >= 0, +inf: no clip
  double coef;               // finite
  double token_count;        // > 0, finite: the denominator (the mini-batch's token count)
};

struct ValueLossResult {
  double loss;  // Σ coef·l / tokenCount over the masked tokens
};

namespace cpu {
ValueLossResult value_loss_cpu(const ValueLossArgs& args);
}  // namespace cpu

namespace cuda {
// Queues the kernels on cuda::stream() and waits for the loss (dvalues is ready in stream order).
ValueLossResult value_loss_cuda(const ValueLossArgs& args);
}  // namespace cuda

}  // namespace steprl
