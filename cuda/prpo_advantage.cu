// prpo_advantage.cu: PRPO token advantages (ALGORITHMS.md §5.4; the CPU statement is
// native/cpu/prpo_advantage.cc). Groups are keyed by id (group_sort.cuh); no float atomics.
//   rows    one block per row: L_i (checking the mask), the valid scores' finiteness, and for the
//           empirical prior the row's pooled count and float64 sum;
//   group   one warp per group: β_i = r_i − mean r (exactly 0 when the group's rewards are all
//           equal, a singleton included), and the pooled mean μ_g from the rows' sums;
//   (empirical) a row pass for Σ (s − μ_g)², then a group pass for 1/(σ_g + eps), σ_g unbiased;
//   output  one block per row: A = ((s − μ)/σ + β)·m, or s + β on the last valid token (compat).
// Bytes per token: scores and mask read twice (three times for the empirical prior, the later
// passes mostly from L2), 4 B written; the group passes touch O(R).
#include "prpo_advantage.h"

#include "advantage_rows.cuh"
#include "group_sort.cuh"

namespace steprl::cuda {
namespace {

using group_sort::Key;
using group_sort::key_row;

struct RowPool {
  double count, sum;
};

// Tokens of the pool: valid and, with compat, before the last valid token.
__device__ __forceinline__ int64_t pool_end(int64_t L, bool compat) { return compat && L > 0 ? L - 1 : L; }

template <bool kU8>
__global__ void __launch_bounds__(kRowThreads)
prpo_rows_kernel(int64_t* lengths, RowPool* pools,                  // [R] each; pools null for the fixed prior
                 const float* scores, const void* mask,             // [R,T] each
                 int64_t R, int64_t T, bool compat, unsigned long long* bad_mask, unsigned long long* bad_score) {
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    const int64_t base = row * T;
    const int64_t L = row_length<kU8, true>(mask, base, T, bad_mask);
    const int64_t end = pool_end(L, compat);
    double count = 0.0, sum = 0.0;
    for (int64_t t = threadIdx.x; t < L; t += blockDim.x) {
      if (!mask_on<kU8>(mask, base + t)) continue;
      const float s = scores[base + t];
      if (!isfinite(s)) atomicMin(bad_score, static_cast<unsigned long long>(base + t));
      if (t < end) {
        count += 1.0;
        sum += s;
      }
    }
    if (pools != nullptr) {
      count = block_reduce_sum(count);
      sum = block_reduce_sum(sum);
    }
    if (threadIdx.x == 0) {
      lengths[row] = L;
      if (pools != nullptr) pools[row] = RowPool{count, sum};
    }
  }
}

__global__ void __launch_bounds__(group_sort::kGroupThreads)
prpo_group_kernel(double* row_beta, double* row_mu,        // [R] each; row_mu null for the fixed prior
                  const Key* keys, const float* rewards,   // [R] sorted, [R]
                  const RowPool* pools, int64_t R, unsigned long long* bad_reward) {
  const int lane = threadIdx.x % kWarpSize;
  group_sort::for_each_group(keys, R, [&](int64_t start, int64_t end) {
    const float first = rewards[key_row(keys[start])];
    double sum = 0.0, count = 0.0, pooled = 0.0;
    bool differs = false;
    for (int64_t k = start + lane; k < end; k += kWarpSize) {
      const int64_t row = key_row(keys[k]);
      const float r = rewards[row];
      if (!isfinite(r)) atomicMin(bad_reward, static_cast<unsigned long long>(row));
      differs |= r != first;
      sum += r;
      if (pools != nullptr) {
        count += pools[row].count;
        pooled += pools[row].sum;
      }
    }
    const bool equal = !warp_any(differs);  // all equal (G = 1 too): β = 0 exactly
    const double mean = warp_reduce_sum(sum) * __drcp_rn(static_cast<double>(end - start));
    double mu = 0.0;
    if (pools != nullptr) {
      count = warp_reduce_sum(count);
      pooled = warp_reduce_sum(pooled);
      mu = count > 0.0 ? pooled * __drcp_rn(count) : 0.0;
    }
    for (int64_t k = start + lane; k < end; k += kWarpSize) {
      const int64_t row = key_row(keys[k]);
      row_beta[row] = equal ? 0.0 : rewards[row] - mean;
      if (row_mu != nullptr) row_mu[row] = mu;
    }
  });
}

template <bool kU8>
__global__ void __launch_bounds__(kRowThreads)
prpo_squares_kernel(double* row_squares,                                  // [R]
                    const float* scores, const void* mask,                // [R,T] each
                    const int64_t* lengths, const double* row_mu,         // [R] each
                    int64_t R, int64_t T, bool compat) {
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    const int64_t base = row * T, end = pool_end(lengths[row], compat);
    const double mu = row_mu[row];
    double squares = 0.0;
    for (int64_t t = threadIdx.x; t < end; t += blockDim.x)
      if (mask_on<kU8>(mask, base + t)) {
        const double centred = scores[base + t] - mu;
        squares += centred * centred;
      }
    squares = block_reduce_sum(squares);
    if (threadIdx.x == 0) row_squares[row] = squares;
  }
}

__global__ void __launch_bounds__(group_sort::kGroupThreads)
prpo_sigma_kernel(double* row_inv_sigma,                          // [R]
                  const Key* keys, const RowPool* pools,          // [R] sorted, [R]
                  const double* row_squares, int64_t R, double eps) {
  const int lane = threadIdx.x % kWarpSize;
  group_sort::for_each_group(keys, R, [&](int64_t start, int64_t end) {
    double count = 0.0, squares = 0.0;
    for (int64_t k = start + lane; k < end; k += kWarpSize) {
      count += pools[key_row(keys[k])].count;
      squares += row_squares[key_row(keys[k])];
    }
    count = warp_reduce_sum(count);
    squares = warp_reduce_sum(squares);
    const double sigma = count > 1.0 ? __dsqrt_rn(squares * __drcp_rn(count - 1.0)) : 0.0;
    const double inv = sigma + eps > 0.0 ? __drcp_rn(sigma + eps) : 0.0;  // σ + eps = 0: every pooled s equals μ, z = 0
    for (int64_t k = start + lane; k < end; k += kWarpSize) row_inv_sigma[key_row(keys[k])] = inv;
  });
}

template <bool kU8>
__global__ void __launch_bounds__(kRowThreads)
prpo_output_kernel(float* advantages,                                   // [R,T]
                   const float* scores, const void* mask,               // [R,T] each
                   const int64_t* lengths, const double* row_beta,      // [R] each
                   const double* row_mu, const double* row_inv_sigma,   // [R] each, or null: the fixed prior
                   int64_t R, int64_t T, double mu0, double inv_sigma0, bool compat) {
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    const int64_t base = row * T, L = lengths[row];
    const double beta = row_beta[row];
    const double mu = row_mu != nullptr ? row_mu[row] : mu0;
    const double inv_sigma = row_inv_sigma != nullptr ? row_inv_sigma[row] : inv_sigma0;
    for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
      float out = 0.0f;
      if (t < L && mask_on<kU8>(mask, base + t)) {
        const double s = scores[base + t];
        out = static_cast<float>(compat && t == L - 1 ? s + beta : fma(s - mu, inv_sigma, beta));
      }
      advantages[base + t] = out;
    }
  }
}

template <bool kU8>
void launch_all(const PrpoAdvantageArgs& a, const ErrorIndex& bad_mask, const ErrorIndex& bad_reward, const ErrorIndex& bad_score) {
  const size_t rows = static_cast<size_t>(a.R);
  const auto lengths = allocate(rows * sizeof(int64_t)), beta = allocate(rows * sizeof(double));
  std::shared_ptr<DeviceAllocation> pools, mu, squares, inv_sigma;
  if (a.empirical) {
    pools = allocate(rows * sizeof(RowPool));
    mu = allocate(rows * sizeof(double));
    squares = allocate(rows * sizeof(double));
    inv_sigma = allocate(rows * sizeof(double));
  }
  RowPool* pool_data = a.empirical ? pools->as<RowPool>() : nullptr;
  double* mu_data = a.empirical ? mu->as<double>() : nullptr;
  double* inv_data = a.empirical ? inv_sigma->as<double>() : nullptr;
  const unsigned blocks = row_blocks(a.R);
  const int threads = row_threads(a.T);
  STEPRL_LAUNCH(prpo_rows_kernel<kU8>, blocks, threads, 0, stream(), lengths->as<int64_t>(), pool_data, a.token_scores, a.mask,
                a.R, a.T, a.compat, bad_mask.device(), bad_score.device());
  const auto keys = group_sort::sorted_keys(a.group_ids, a.R);
  STEPRL_LAUNCH(prpo_group_kernel, group_sort::group_blocks(a.R), group_sort::kGroupThreads, 0, stream(), beta->as<double>(),
                mu_data, keys->as<Key>(), a.rewards, pool_data, a.R, bad_reward.device());
  if (a.empirical) {
    STEPRL_LAUNCH(prpo_squares_kernel<kU8>, blocks, threads, 0, stream(), squares->as<double>(), a.token_scores, a.mask,
                  lengths->as<int64_t>(), mu_data, a.R, a.T, a.compat);
    STEPRL_LAUNCH(prpo_sigma_kernel, group_sort::group_blocks(a.R), group_sort::kGroupThreads, 0, stream(), inv_data,
                  keys->as<Key>(), pool_data, squares->as<double>(), a.R, a.eps);
  }
  STEPRL_LAUNCH(prpo_output_kernel<kU8>, blocks, threads, 0, stream(), a.advantages, a.token_scores, a.mask,
                lengths->as<int64_t>(), beta->as<double>(), mu_data, inv_data, a.R, a.T, a.mu0, 1.0 / a.sigma0, a.compat);
}  // the scratch returns to the cache at once: later work on the stream runs after these kernels

}  // namespace

void prpo_advantage_cuda(const PrpoAdvantageArgs& a) {
  if (a.R == 0) return;
  const ErrorIndex bad_mask, bad_reward, bad_score;
  if (a.mask_u8) launch_all<true>(a, bad_mask, bad_reward, bad_score);
  else launch_all<false>(a, bad_mask, bad_reward, bad_score);
  throw_if_bad_mask(bad_mask, a.mask, a.mask_u8);  // waits for the kernels
  throw_if_not_finite(bad_reward, a.rewards, "rewards", false);
  throw_if_not_finite(bad_score, a.token_scores, "tokenScores", true);
}

}  // namespace steprl::cuda
