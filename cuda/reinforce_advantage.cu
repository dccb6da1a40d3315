// reinforce_advantage.cu: REINFORCE++ / REINFORCE++-baseline advantages (arXiv 2501.03262; the CPU
// statement is native/cpu/reinforce_advantage.cc). Up to four steps:
//   baseline  (groupIds given) group_advantage.cu's launcher with scale 'none': r̃ = r − μ_g;
//   scan      one block per row: ρ_t = −β(ℓold − ℓref)·m + r̃ at t = L − 1, the discounted return
//             G_t = ρ_t + γ·G_{t+1} as a block scan of affine maps x ↦ ρ_t + γ·x in float64, in
//             chunks right to left (as gae.cu); writes G twice (returns, advantages) and, when
//             normalizing, the row's (n, mean, M2) of the stored G; notes a non-finite reward;
//   moments   one block merges the rows' moments in a fixed order: mean and
//             rsqrt(max(population variance, 1e-8)) (OpenRLHF);
//   normalize element-wise (G − mean)·rstd on valid tokens.
// No atomics on values: the same bits every run. Bytes per token: ℓold, ℓref (8 B, only with a KL
// term), the mask, 8 B out, plus 4 + 4 B for normalizing: memory-bound, coalesced.
#include "reinforce_advantage.h"

#include "advantage_rows.cuh"
#include "group_advantage.h"

namespace steprl::cuda {
namespace {

constexpr int kMomentThreads = 1024;

template <bool kU8>
__global__ void __launch_bounds__(kRowThreads)
reinforce_scan_kernel(float* advantages, float* returns,                 // [R,T] each
                      Moments* row_moments,                              // [R] or null (no normalizing)
                      const float* outcome,                              // [R] r̃
                      const float* old_logprobs, const float* ref_logprobs,  // [R,T] each, or null
                      const void* mask, int64_t R, int64_t T, double kl_coef, double gamma,
                      unsigned long long* bad_mask, unsigned long long* bad_reward) {
  __shared__ Affine scan_scratch[kWarpSize];
  const int64_t B = blockDim.x;
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    const int64_t base = row * T;
    const int64_t L = row_length<kU8, true>(mask, base, T, bad_mask);
    const double final_reward = outcome[row];
    if (threadIdx.x == 0 && !isfinite(final_reward)) atomicMin(bad_reward, static_cast<unsigned long long>(row));
    for (int64_t t = L + threadIdx.x; t < T; t += B) {
      advantages[base + t] = 0.0f;
      returns[base + t] = 0.0f;
    }
    double carry = 0.0;  // G at the first token right of the chunk (0 at L)
    float count = 0.0f;  // exact: at most T / B per thread
    double sum = 0.0;
    for (int64_t chunk = L > 0 ? (L - 1) / B * B : -1; chunk >= 0; chunk -= B) {
      const int64_t t = chunk + threadIdx.x;
      const bool on = t < L && mask_on<kU8>(mask, base + t);
      double reward = 0.0;
      if (on && old_logprobs != nullptr)
        reward = -kl_coef * (static_cast<double>(old_logprobs[base + t]) - static_cast<double>(ref_logprobs[base + t]));
      if (t == L - 1) reward += final_reward;
      Affine chunk_map;
      const Affine map = block_reverse_scan(Affine{t < L ? gamma : 1.0, t < L ? reward : 0.0}, Affine{1.0, 0.0},
                                            [](Affine x, Affine y) { return affine_then(x, y); }, scan_scratch, &chunk_map);
      const double value = fma(map.a, carry, map.b);
      if (t < L) {
        const float stored = on ? static_cast<float>(value) : 0.0f;
        advantages[base + t] = stored;
        returns[base + t] = stored;
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
    __syncthreads();  // the row's stored G is visible to the whole block
    double m2 = 0.0;
    for (int64_t t = threadIdx.x; t < L; t += B)
      if (mask_on<kU8>(mask, base + t)) {
        const double centred = returns[base + t] - mean;
        m2 += centred * centred;
      }
    m2 = block_reduce_sum(m2);
    if (threadIdx.x == 0) row_moments[row] = Moments{n, mean, m2};
  }
}

__global__ void __launch_bounds__(kMomentThreads)
reinforce_moments_kernel(double* stats, const Moments* row_moments, int64_t R) {  // stats [2]: mean, 1/std
  __shared__ Moments partial[kMomentThreads];
  Moments m{0.0, 0.0, 0.0};
  for (int64_t row = threadIdx.x; row < R; row += blockDim.x) m = merge(m, row_moments[row]);
  partial[threadIdx.x] = m;
  __syncthreads();
  if (threadIdx.x != 0) return;
  for (int k = 1; k < static_cast<int>(blockDim.x); ++k) m = merge(m, partial[k]);
  const double variance = m.n > 0.0 ? m.m2 * __drcp_rn(m.n) : 0.0;
  stats[0] = m.mean;
  stats[1] = __drcp_rn(__dsqrt_rn(variance > kReinforceVarianceFloor ? variance : kReinforceVarianceFloor));
}

template <bool kU8>
__global__ void reinforce_normalize_kernel(float* advantages, const float* returns, const double* stats, const void* mask,
                                           int64_t n) {  // [n] each
  const double mean = stats[0], inv_std = stats[1];
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride)
    advantages[i] = mask_on<kU8>(mask, i) ? static_cast<float>((returns[i] - mean) * inv_std) : 0.0f;
}

}  // namespace

void reinforce_advantage_cuda(const ReinforceAdvantageArgs& a) {
  if (a.R == 0 || a.T == 0) return;
  const ErrorIndex bad_mask, bad_reward;
  const float* outcome = a.rewards;
  std::shared_ptr<DeviceAllocation> centred;
  if (a.group_ids != nullptr) {  // r̃ = r − μ_g (also checks that rewards are finite)
    centred = allocate(static_cast<size_t>(a.R) * sizeof(float));
    group_advantage_cuda({centred->as<float>(), a.rewards, a.group_ids, false, true, 0.0, false, a.R});
    outcome = centred->as<float>();
  }
  std::shared_ptr<DeviceAllocation> row_moments, stats;
  if (a.normalize) {
    row_moments = allocate(static_cast<size_t>(a.R) * sizeof(Moments));
    stats = allocate(2 * sizeof(double));
  }
  Moments* moments = a.normalize ? row_moments->as<Moments>() : nullptr;
  const double kl = a.old_logprobs != nullptr ? a.kl_coef : 0.0;
  if (a.mask_u8) {
    STEPRL_LAUNCH(reinforce_scan_kernel<true>, row_blocks(a.R), row_threads(a.T), 0, stream(), a.advantages, a.returns,
                  moments, outcome, a.old_logprobs, a.ref_logprobs, a.mask, a.R, a.T, kl, a.gamma, bad_mask.device(),
                  bad_reward.device());
  } else {
    STEPRL_LAUNCH(reinforce_scan_kernel<false>, row_blocks(a.R), row_threads(a.T), 0, stream(), a.advantages, a.returns,
                  moments, outcome, a.old_logprobs, a.ref_logprobs, a.mask, a.R, a.T, kl, a.gamma, bad_mask.device(),
                  bad_reward.device());
  }
  if (a.normalize) {
    STEPRL_LAUNCH(reinforce_moments_kernel, 1, kMomentThreads, 0, stream(), stats->as<double>(), moments, a.R);
    const int64_t n = a.R * a.T;
    const unsigned blocks = static_cast<unsigned>(ceil_div(n, 256) < 65535 * 8 ? ceil_div(n, 256) : 65535 * 8);
    if (a.mask_u8) {
      STEPRL_LAUNCH(reinforce_normalize_kernel<true>, blocks, 256, 0, stream(), a.advantages, a.returns, stats->as<double>(),
                    a.mask, n);
    } else {
      STEPRL_LAUNCH(reinforce_normalize_kernel<false>, blocks, 256, 0, stream(), a.advantages, a.returns, stats->as<double>(),
                    a.mask, n);
    }
  }
  throw_if_bad_mask(bad_mask, a.mask, a.mask_u8);  // waits for the kernels
  throw_if_not_finite(bad_reward, a.rewards, "rewards", false);
}

}  // namespace steprl::cuda
