// policy_loss.cu: the clipped-surrogate policy loss with a KL term, its gradient and metrics
// (ALGORITHMS.md §1.1-§1.4, §1.7; the CPU statement is native/cpu/policy_loss.cc). Three kernels
// (policy_loss_modes_kernel replaces `tokens` for the gspo, gspo-token and cispo modes):
//   count   (only when a weight needs them: token-mean without tokenCount, seq-mean-token-mean)
//           one block per row: L_r = tokens in the row's mask; the batch total by an integer
//           atomicAdd (exact, so order-free);
//   tokens  one block per row: w_r from the aggregation, then per token rho, psi, the clip
//           branch, the KL term (kl_estimate.cuh) and dlogprobs = s w_r g, written once with
//           16-byte stores; the row's sums (w psi, w kl, kl, clipped, old - l, tokens) reduced in
//           the block and stored per row, in float64;
//   finish  one block of 1024 threads sums the rows in a fixed order: no float atomics, so
//           the scalars have the same bits on every run, whatever the launch order of blocks.
// The mask is validated on the way (0 or 1; the first other value is reported as the CPU does).
// The mask test, the count kernel, the per-token code and the row weight live in policy_loss_rows.cuh,
// shared with the one-pass lm_head + loss (linear_logprobs.cu).
// Bytes per launch: tokens 4 arrays x 4 B + mask (4 or 1 B) in, 4 B out per token (20-24 B/token),
// plus the mask again for count: memory-bound at ~40 instructions per token.
#include "policy_loss.h"

#include <string>

#include "common.cuh"
#include "device.h"
#include "kl_estimate.cuh"
#include "policy_loss_rows.cuh"

namespace steprl::cuda {
namespace {

constexpr int kMaxThreads = kPolicyLossThreads;
constexpr int kFinishThreads = 1024;
constexpr int kRowSums = 6;  // w psi, w kl, kl, clipped, approx kl, tokens

__device__ __forceinline__ int64_t misalignment(const void* p) { return static_cast<int64_t>(reinterpret_cast<std::uintptr_t>(p) % 16); }

template <bool kU8>
__global__ void __launch_bounds__(kMaxThreads)
policy_loss_tokens_kernel(float* dlogprobs,                                  // [R,T]
                          double* row_sums,                                  // [R, kRowSums]
                          const float* logprobs, const float* old_logprobs,  // [R,T] each
                          const float* ref_logprobs, const float* advantages,  // [R,T] each; ref may be null
                          const void* mask,                                  // [R,T] f32 or u8
                          const double* row_tokens, const unsigned long long* total,  // from count, or null
                          int64_t R, int64_t T, TokenParams p, LossAggregation aggregation, double token_count,
                          double row_count, double max_length, double loss_scale, unsigned long long* bad_mask) {
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    const double w = row_weight(aggregation, row, row_tokens, total, token_count, row_count, max_length, loss_scale);
    const float wf = static_cast<float>(w);
    const int64_t base = row * T;
    ThreadSums s;
    auto one = [&](int64_t i) {
      float out = 0.0f;
      if (mask_on<kU8>(mask, i, bad_mask))
        out = wf * token_gradient(p, logprobs[i], old_logprobs[i], p.has_ref ? ref_logprobs[i] : 0.0f, advantages[i], s);
      dlogprobs[i] = out;
    };
    // 16-byte vectors where every float array starts the row at the same offset from a boundary.
    const int64_t offset = misalignment(logprobs + base);
    const bool vectors = misalignment(old_logprobs + base) == offset && misalignment(advantages + base) == offset &&
                         misalignment(dlogprobs + base) == offset &&
                         (!p.has_ref || misalignment(ref_logprobs + base) == offset) &&
                         (kU8 || misalignment(static_cast<const float*>(mask) + base) == offset);
    int64_t head = vectors ? (16 - offset) % 16 / 4 : T;
    head = head < T ? head : T;
    for (int64_t t = threadIdx.x; t < head; t += blockDim.x) one(base + t);
    const int64_t count = (T - head) / 4;
    for (int64_t v = threadIdx.x; v < count; v += blockDim.x) {
      const int64_t i = base + head + 4 * v;
      const float4 l = load_float4(logprobs + i), o = load_float4(old_logprobs + i), a = load_float4(advantages + i);
      const float4 r = p.has_ref ? load_float4(ref_logprobs + i) : make_float4(0.f, 0.f, 0.f, 0.f);
      bool on[4];
      if constexpr (kU8) {
#pragma unroll
        for (int k = 0; k < 4; ++k) on[k] = mask_on<true>(mask, i + k, bad_mask);
      } else {
        const float4 m = load_float4(static_cast<const float*>(mask) + i);
        const float mv[4] = {m.x, m.y, m.z, m.w};
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          if (mv[k] != 0.0f && mv[k] != 1.0f) atomicMin(bad_mask, static_cast<unsigned long long>(i + k));
          on[k] = mv[k] != 0.0f;
        }
      }
      float4 g;
      g.x = on[0] ? wf * token_gradient(p, l.x, o.x, r.x, a.x, s) : 0.0f;
      g.y = on[1] ? wf * token_gradient(p, l.y, o.y, r.y, a.y, s) : 0.0f;
      g.z = on[2] ? wf * token_gradient(p, l.z, o.z, r.z, a.z, s) : 0.0f;
      g.w = on[3] ? wf * token_gradient(p, l.w, o.w, r.w, a.w, s) : 0.0f;
      store_float4(dlogprobs + i, g);
    }
    for (int64_t t = head + 4 * count + threadIdx.x; t < T; t += blockDim.x) one(base + t);
    const double psi = block_reduce_sum(static_cast<double>(s.psi));
    const double kl = block_reduce_sum(static_cast<double>(s.kl));
    const double clipped = block_reduce_sum(static_cast<double>(s.clipped));
    const double approx = block_reduce_sum(static_cast<double>(s.approx));
    const double tokens = block_reduce_sum(static_cast<double>(s.tokens));
    if (threadIdx.x == 0) {
      double* out = row_sums + row * kRowSums;
      out[0] = w * psi;
      out[1] = w * kl;
      out[2] = kl;
      out[3] = clipped;
      out[4] = approx;
      out[5] = tokens;
    }
  }
}

// The gspo, gspo-token and cispo modes (native/cpu/policy_loss.h), one block per row, no vectors:
// gspo first reduces the row's Σ m(ℓ − ℓold) and L_i for s_i; gspo (sequence) then reduces the
// row's Σ gψ and adds w·Σgψ/L_i to each token's KL gradient (each thread revisits its own tokens).
template <bool kU8>
__global__ void __launch_bounds__(kMaxThreads)
policy_loss_modes_kernel(float* dlogprobs,                                  // [R,T]
                         double* row_sums,                                  // [R, kRowSums]
                         const float* logprobs, const float* old_logprobs,  // [R,T] each
                         const float* ref_logprobs, const float* advantages,  // [R,T] each; ref may be null
                         const void* mask,                                  // [R,T] f32 or u8
                         const double* row_tokens, const unsigned long long* total,  // from count, or null
                         int64_t R, int64_t T, TokenParams p, PolicyLossMode mode, LossAggregation aggregation,
                         double token_count, double row_count, double max_length, double loss_scale,
                         unsigned long long* bad_mask) {
  const bool sequence = mode == PolicyLossMode::gspo, gspo = sequence || mode == PolicyLossMode::gspo_token;
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    const double w = row_weight(aggregation, row, row_tokens, total, token_count, row_count, max_length, loss_scale);
    const float wf = static_cast<float>(w);
    const int64_t base = row * T;
    float seq_ratio = 1.0f;
    bool seq_clamped = false;
    if (gspo) {
      double sum = 0.0;
      float count = 0.0f;  // exact: at most T / blockDim per thread
      for (int64_t t = threadIdx.x; t < T; t += blockDim.x)
        if (mask_on<kU8>(mask, base + t, bad_mask)) {
          sum += static_cast<double>(logprobs[base + t]) - static_cast<double>(old_logprobs[base + t]);
          count += 1.0f;
        }
      sum = block_reduce_sum(sum);
      const double n = block_reduce_sum(static_cast<double>(count));
      const double mean = n > 0.0 ? sum * __drcp_rn(n) : 0.0;
      const double bound = kRatioClamp;
      seq_clamped = fabs(mean) > bound;
      seq_ratio = static_cast<float>(exp(mean < -bound ? -bound : (mean > bound ? bound : mean)));
    }
    ThreadSums s;
    double g_sum = 0.0;
    for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
      const int64_t i = base + t;
      if (!mask_on<kU8>(mask, i, bad_mask)) {
        dlogprobs[i] = 0.0f;
        continue;
      }
      const float l = logprobs[i], old = old_logprobs[i], A = advantages[i];
      float psi, g;
      bool clipped;
      if (gspo) {
        psi = fmaxf(-A * seq_ratio, -A * fminf(fmaxf(seq_ratio, p.low), p.high));
        const bool active = (A > 0.0f && seq_ratio <= p.high) || (A < 0.0f && seq_ratio >= p.low);
        const bool unclipped = active && !seq_clamped;
        g = unclipped ? -A * seq_ratio : 0.0f;
        clipped = A != 0.0f && !unclipped;
      } else {
        cispo_terms(p, l, old, A, &psi, &g, &clipped);
      }
      if (sequence) {
        g_sum += g;
        g = 0.0f;
      }
      if (p.has_ref) {
        float kl, dkl;
        kl_estimate(p.estimator, l, ref_logprobs[i], &kl, &dkl);
        g = fmaf(p.kl_coef, dkl, g);
        s.kl += kl;
      }
      dlogprobs[i] = wf * g;
      s.psi += psi;
      s.clipped += clipped ? 1.0f : 0.0f;
      s.approx += old - l;
      s.tokens += 1.0f;
    }
    const double psi = block_reduce_sum(static_cast<double>(s.psi));
    const double kl = block_reduce_sum(static_cast<double>(s.kl));
    const double clipped = block_reduce_sum(static_cast<double>(s.clipped));
    const double approx = block_reduce_sum(static_cast<double>(s.approx));
    const double tokens = block_reduce_sum(static_cast<double>(s.tokens));
    if (sequence) {
      const double g_total = block_reduce_sum(g_sum);
      if (tokens > 0.0) {
        const float shared = static_cast<float>(static_cast<double>(wf) * g_total * __drcp_rn(tokens));
        for (int64_t t = threadIdx.x; t < T; t += blockDim.x)
          if (mask_on<kU8>(mask, base + t)) dlogprobs[base + t] += shared;
      }
    }
    if (threadIdx.x == 0) {
      double* out = row_sums + row * kRowSums;
      out[0] = w * psi;
      out[1] = w * kl;
      out[2] = kl;
      out[3] = clipped;
      out[4] = approx;
      out[5] = tokens;
    }
  }
}

// The batch's sums, rows in a fixed order per thread, then one block reduction.
__global__ void __launch_bounds__(kFinishThreads)
policy_loss_finish_kernel(double* totals, const double* row_sums, int64_t R) {  // totals [kRowSums], row_sums [R, kRowSums]
  double sums[kRowSums] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  for (int64_t row = threadIdx.x; row < R; row += blockDim.x)
#pragma unroll
    for (int k = 0; k < kRowSums; ++k) sums[k] += row_sums[row * kRowSums + k];
#pragma unroll
  for (int k = 0; k < kRowSums; ++k) {
    const double total = block_reduce_sum(sums[k]);
    if (threadIdx.x == 0) totals[k] = total;
  }
}

}  // namespace

PolicyLossResult policy_loss_cuda(const PolicyLossArgs& a) {
  PolicyLossResult result{};
  if (a.R == 0 || a.T == 0) return result;
  const unsigned blocks = static_cast<unsigned>(a.R < (int64_t{1} << 30) ? a.R : (int64_t{1} << 30));
  const int threads = threads_for(a.T, 8, kMaxThreads);  // at most 8 tokens per thread
  const ErrorIndex bad_mask;
  const bool need_counts = a.aggregation == LossAggregation::seq_mean_token_mean ||
                           (a.aggregation == LossAggregation::token_mean && a.token_count == 0.0);
  std::shared_ptr<DeviceAllocation> row_tokens, total;
  if (need_counts) {
    row_tokens = allocate(static_cast<size_t>(a.R) * sizeof(double));
    total = allocate(sizeof(unsigned long long));
    fill_bytes(total->data(), 0, sizeof(unsigned long long));
    if (a.mask_u8) {
      STEPRL_LAUNCH(policy_loss_count_kernel<true>, blocks, threads, 0, stream(), row_tokens->as<double>(),
                    total->as<unsigned long long>(), a.mask, a.R, a.T, bad_mask.device());
    } else {
      STEPRL_LAUNCH(policy_loss_count_kernel<false>, blocks, threads, 0, stream(), row_tokens->as<double>(),
                    total->as<unsigned long long>(), a.mask, a.R, a.T, bad_mask.device());
    }
  }
  const auto row_sums = allocate(static_cast<size_t>(a.R) * kRowSums * sizeof(double));
  const TokenParams params{1.0f - a.clip_low, 1.0f + a.clip_high, a.dual_clip, a.kl_coef, a.kl_estimator,
                           a.ref_logprobs != nullptr};
  const double* tokens_per_row = need_counts ? row_tokens->as<double>() : nullptr;
  const unsigned long long* batch_tokens = need_counts ? total->as<unsigned long long>() : nullptr;
  if (a.mode != PolicyLossMode::clip) {
    if (a.mask_u8) {
      STEPRL_LAUNCH(policy_loss_modes_kernel<true>, blocks, threads, 0, stream(), a.dlogprobs,
                    row_sums->as<double>(), a.logprobs, a.old_logprobs, a.ref_logprobs, a.advantages, a.mask,
                    tokens_per_row, batch_tokens, a.R, a.T, params, a.mode, a.aggregation, a.token_count, a.row_count,
                    a.max_length, a.loss_scale, bad_mask.device());
    } else {
      STEPRL_LAUNCH(policy_loss_modes_kernel<false>, blocks, threads, 0, stream(), a.dlogprobs,
                    row_sums->as<double>(), a.logprobs, a.old_logprobs, a.ref_logprobs, a.advantages, a.mask,
                    tokens_per_row, batch_tokens, a.R, a.T, params, a.mode, a.aggregation, a.token_count, a.row_count,
                    a.max_length, a.loss_scale, bad_mask.device());
    }
  } else if (a.mask_u8) {
    STEPRL_LAUNCH(policy_loss_tokens_kernel<true>, blocks, threads, 0, stream(), a.dlogprobs,
                  row_sums->as<double>(), a.logprobs, a.old_logprobs, a.ref_logprobs, a.advantages, a.mask,
                  tokens_per_row, batch_tokens, a.R, a.T, params, a.aggregation, a.token_count, a.row_count,
                  a.max_length, a.loss_scale, bad_mask.device());
  } else {
    STEPRL_LAUNCH(policy_loss_tokens_kernel<false>, blocks, threads, 0, stream(), a.dlogprobs,
                  row_sums->as<double>(), a.logprobs, a.old_logprobs, a.ref_logprobs, a.advantages, a.mask,
                  tokens_per_row, batch_tokens, a.R, a.T, params, a.aggregation, a.token_count, a.row_count,
                  a.max_length, a.loss_scale, bad_mask.device());
  }
  const auto totals = allocate(kRowSums * sizeof(double));
  STEPRL_LAUNCH(policy_loss_finish_kernel, 1, kFinishThreads, 0, stream(), totals->as<double>(), row_sums->as<double>(), a.R);

  double t[kRowSums];
  copy_to_host(t, totals->data(), sizeof t);  // waits for the kernels
  throw_if_bad_mask(a, bad_mask);
  const double tokens = t[5];
  if (tokens == 0.0) return result;  // nothing masked in: every output is 0 (as on the cpu)
  result.pg_loss = t[0];
  result.kl_loss = a.ref_logprobs != nullptr ? static_cast<double>(a.kl_coef) * t[1] : 0.0;
  result.loss = result.pg_loss + result.kl_loss;
  result.clip_fraction = t[3] / tokens;
  result.kl = t[2] / tokens;
  result.approx_kl = t[4] / tokens;
  return result;
}

}  // namespace steprl::cuda
