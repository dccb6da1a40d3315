// gae.cu: GAE with TRL's masked whitening (ALGORITHMS.md §1.8; the CPU statement is
// native/cpu/gae.cc). Three kernels:
//   scan    one block per row: the reverse recurrence Â_t = δ_t + γλ·Â_{t+1} as a block scan of
//           affine maps x ↦ δ_t + γλ·x in float64, in chunks right to left (Â of the chunk to the
//           right carried in), δ_t = r_t + γV_{t+1} − V_t on masked r and V; writes Â (float32)
//           and returns = Â + V; with whitening also the row's (n, mean, M2) of the stored Â (a
//           second sweep over the row it just wrote, from L2);
//   moments one block combines the rows' (n, mean, M2) with Chan's formula in a fixed order
//           (strided per thread, then thread 0 in thread order): the batch mean and 1/sqrt(var + 1e-8),
//           var with Bessel's factor (0 for fewer than 2 tokens);
//   whiten  element-wise (Â − mean)·inv_std on valid tokens.
// No atomics on values: the same bits every run. Bytes per token: 12 B in (r, V, V_{t+1} from L1),
// the mask, 8 B out, plus 4 B read back and 4 + 4 B for whitening: memory-bound, coalesced.
#include "gae.h"

#include "advantage_rows.cuh"

namespace steprl::cuda {
namespace {

constexpr int kMomentThreads = 1024;

template <bool kU8>
__global__ void __launch_bounds__(kRowThreads)
gae_scan_kernel(float* advantages, float* returns,            // [R,T] each
                Moments* row_moments,                         // [R] or null (no whitening)
                const float* rewards, const float* values,    // [R,T] each
                const void* mask, int64_t R, int64_t T, double gamma, double decay, unsigned long long* bad_mask) {
  __shared__ Affine scan_scratch[kWarpSize];
  const int64_t B = blockDim.x;
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    const int64_t base = row * T;
    const int64_t L = row_length<kU8, true>(mask, base, T, bad_mask);
    for (int64_t t = L + threadIdx.x; t < T; t += B) {
      advantages[base + t] = 0.0f;
      returns[base + t] = 0.0f;
    }
    double carry = 0.0;  // Â at the first token right of the chunk (0 at L: nothing valid follows)
    float count = 0.0f;  // exact: at most T / B per thread
    double sum = 0.0;
    for (int64_t chunk = L > 0 ? (L - 1) / B * B : -1; chunk >= 0; chunk -= B) {
      const int64_t t = chunk + threadIdx.x;
      const bool on = t < L && mask_on<kU8>(mask, base + t);
      const double v = on ? values[base + t] : 0.0;
      const double v_next = t + 1 < L && mask_on<kU8>(mask, base + t + 1) ? values[base + t + 1] : 0.0;
      const double delta = on ? rewards[base + t] + gamma * v_next - v : gamma * v_next;
      Affine chunk_map;
      const Affine map = block_reverse_scan(Affine{t < L ? decay : 1.0, t < L ? delta : 0.0}, Affine{1.0, 0.0},
                                            [](Affine x, Affine y) { return affine_then(x, y); }, scan_scratch, &chunk_map);
      const double advantage = fma(map.a, carry, map.b);
      if (t < L) {
        const float stored = on ? static_cast<float>(advantage) : 0.0f;
        advantages[base + t] = stored;
        returns[base + t] = on ? static_cast<float>(advantage + v) : 0.0f;
        if (on) {
          count += 1.0f;
          sum += stored;
        }
      }
      carry = fma(chunk_map.a, carry, chunk_map.b);
    }
    if (row_moments == nullptr) continue;
    const double n = block_reduce_sum(static_cast<double>(count));
    const double total = block_reduce_sum(sum);
    const double mean = n > 0.0 ? total * __drcp_rn(n) : 0.0;
    __syncthreads();  // the row's stored Â is visible to the whole block
    double m2 = 0.0;
    for (int64_t t = threadIdx.x; t < L; t += B)
      if (mask_on<kU8>(mask, base + t)) {
        const double centred = advantages[base + t] - mean;
        m2 += centred * centred;
      }
    m2 = block_reduce_sum(m2);
    if (threadIdx.x == 0) row_moments[row] = Moments{n, mean, m2};
  }
}

__global__ void __launch_bounds__(kMomentThreads)
gae_moments_kernel(double* stats, const Moments* row_moments, int64_t R) {  // stats [2]: mean, 1/std
  __shared__ Moments partial[kMomentThreads];
  Moments m{0.0, 0.0, 0.0};
  for (int64_t row = threadIdx.x; row < R; row += blockDim.x) m = merge(m, row_moments[row]);
  partial[threadIdx.x] = m;
  __syncthreads();
  if (threadIdx.x != 0) return;
  for (int k = 1; k < static_cast<int>(blockDim.x); ++k) m = merge(m, partial[k]);
  const double variance = m.n > 1.0 ? m.m2 * __drcp_rn(m.n - 1.0) : 0.0;
  stats[0] = m.mean;
  stats[1] = __drcp_rn(__dsqrt_rn(variance + kWhitenEps));
}

template <bool kU8>
__global__ void gae_whiten_kernel(float* advantages, const double* stats, const void* mask, int64_t n) {  // [n] each
  const double mean = stats[0], inv_std = stats[1];
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride)
    advantages[i] = mask_on<kU8>(mask, i) ? static_cast<float>((advantages[i] - mean) * inv_std) : 0.0f;
}

}  // namespace

void gae_cuda(const GaeArgs& a) {
  if (a.R == 0 || a.T == 0) return;
  const ErrorIndex bad_mask;
  std::shared_ptr<DeviceAllocation> row_moments, stats;
  if (a.whiten) {
    row_moments = allocate(static_cast<size_t>(a.R) * sizeof(Moments));
    stats = allocate(2 * sizeof(double));
  }
  Moments* moments = a.whiten ? row_moments->as<Moments>() : nullptr;
  const double decay = a.gamma * a.lambda;
  if (a.mask_u8) {
    STEPRL_LAUNCH(gae_scan_kernel<true>, row_blocks(a.R), row_threads(a.T), 0, stream(), a.advantages, a.returns, moments,
                  a.rewards, a.values, a.mask, a.R, a.T, a.gamma, decay, bad_mask.device());
  } else {
    STEPRL_LAUNCH(gae_scan_kernel<false>, row_blocks(a.R), row_threads(a.T), 0, stream(), a.advantages, a.returns, moments,
                  a.rewards, a.values, a.mask, a.R, a.T, a.gamma, decay, bad_mask.device());
  }
  if (a.whiten) {
    STEPRL_LAUNCH(gae_moments_kernel, 1, kMomentThreads, 0, stream(), stats->as<double>(), moments, a.R);
    const int64_t n = a.R * a.T;
    const unsigned blocks = static_cast<unsigned>(ceil_div(n, 256) < 65535 * 8 ? ceil_div(n, 256) : 65535 * 8);
    if (a.mask_u8) {
      STEPRL_LAUNCH(gae_whiten_kernel<true>, blocks, 256, 0, stream(), a.advantages, stats->as<double>(), a.mask, n);
    } else {
      STEPRL_LAUNCH(gae_whiten_kernel<false>, blocks, 256, 0, stream(), a.advantages, stats->as<double>(), a.mask, n);
    }
  }
  throw_if_bad_mask(bad_mask, a.mask, a.mask_u8);  // waits for the kernels
}

}  // namespace steprl::cuda
