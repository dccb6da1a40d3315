// prl_advantage.cu: PRL process advantages (ALGORITHMS.md §4.3; the CPU statement is
// native/cpu/prl_advantage.cc). One block per row:
//   1. L = one past the last token with m = 1 (a block max), checking every mask value once;
//   2. the row in chunks of blockDim tokens, right to left: S = the inclusive reverse scan of
//      d = m(ℓold − ℓref) in float64 (block_reverse_scan plus the carried sum of the chunks to the
//      right: an explicit scan, never total − prefix); at step ends v = Â − S(e or e+1)/η; a second
//      scan carries the nearest step end's v leftwards (the "fill from the next step end", with
//      the value carried across chunks); A = v·m, written once, coalesced.
// Chunks are aligned to multiples of blockDim from token 0, so a warp's loads are whole 128-byte
// lines. Per token 8 B of log-probs, the mask (1 or 4 B, read twice, the second time from L1/L2),
// 1 B of step ends, 4 B out; scans are a few shuffles per token, so the kernel stays memory-bound
// (scalar, coalesced loads: each row's chunks start at arbitrary alignment, so no 16-byte vectors).
#include "prl_advantage.h"

#include "advantage_rows.cuh"

namespace steprl::cuda {
namespace {

template <bool kU8>
__global__ void __launch_bounds__(kRowThreads)
prl_advantage_kernel(float* advantages,                                     // [R,T]
                     const float* outcome,                                  // [R]
                     const float* old_logprobs, const float* ref_logprobs,  // [R,T] each
                     const void* mask, const uint8_t* step_ends,            // [R,T] each; step_ends null in token mode
                     int64_t R, int64_t T, double inv_eta, bool token_mode, bool next_step,
                     unsigned long long* bad_mask) {
  __shared__ double sum_scratch[kWarpSize];
  __shared__ Marked fill_scratch[kWarpSize];
  const int64_t B = blockDim.x;
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    const int64_t base = row * T;
    const int64_t L = row_length<kU8, true>(mask, base, T, bad_mask);
    for (int64_t t = L + threadIdx.x; t < T; t += B) advantages[base + t] = 0.0f;
    const double outcome_row = outcome[row];
    double carry_sum = 0.0;              // S at the first token right of the chunk
    Marked carry_value{0.0, 0};          // v of the nearest step end right of the chunk
    for (int64_t chunk = L > 0 ? (L - 1) / B * B : -1; chunk >= 0; chunk -= B) {
      const int64_t t = chunk + threadIdx.x;
      const bool inside = t < L;
      const bool on = inside && mask_on<kU8>(mask, base + t);
      const double d = on ? static_cast<double>(old_logprobs[base + t]) - static_cast<double>(ref_logprobs[base + t]) : 0.0;
      double chunk_sum;
      const double S = block_reverse_scan(d, 0.0, [](double a, double b) { return a + b; }, sum_scratch, &chunk_sum) + carry_sum;
      const bool step_end = inside && (token_mode ? on : (t == L - 1 || step_ends[base + t] != 0));
      Marked mine{step_end ? outcome_row - (next_step ? S - d : S) * inv_eta : 0.0, step_end ? 1 : 0};
      Marked chunk_first;
      mine = block_reverse_scan(mine, Marked{0.0, 0}, [](Marked x, Marked y) { return first_marked(x, y); }, fill_scratch, &chunk_first);
      const double value = mine.marked ? mine.value : carry_value.value;
      if (inside) advantages[base + t] = on ? static_cast<float>(value) : 0.0f;
      carry_sum += chunk_sum;
      if (chunk_first.marked) carry_value = chunk_first;
    }
  }
}

}  // namespace

void prl_advantage_cuda(const PrlAdvantageArgs& a) {
  if (a.R == 0 || a.T == 0) return;
  const ErrorIndex bad_mask;
  const bool token_mode = a.mode == PrlMode::token;
  if (a.mask_u8) {
    STEPRL_LAUNCH(prl_advantage_kernel<true>, row_blocks(a.R), row_threads(a.T), 0, stream(), a.advantages, a.outcome_advantages,
                  a.old_logprobs, a.ref_logprobs, a.mask, a.step_ends, a.R, a.T, 1.0 / a.eta, token_mode, a.next_step,
                  bad_mask.device());
  } else {
    STEPRL_LAUNCH(prl_advantage_kernel<false>, row_blocks(a.R), row_threads(a.T), 0, stream(), a.advantages, a.outcome_advantages,
                  a.old_logprobs, a.ref_logprobs, a.mask, a.step_ends, a.R, a.T, 1.0 / a.eta, token_mode, a.next_step,
                  bad_mask.device());
  }
  throw_if_bad_mask(bad_mask, a.mask, a.mask_u8);  // waits for the kernel
}

}  // namespace steprl::cuda
