// token_logprobs.cc: dispatch (SIMD level, threads) and the scalar implementation, which is the
// plain-loop statement of the kernels the AVX2/AVX-512 files vectorize.
#include "token_logprobs.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "parallel.h"
#include "simd.h"

namespace steprl::cpu {
namespace {

inline float load_logit(const void* logits, int bf16, int64_t i) {
  if (bf16) {
    uint32_t bits = static_cast<uint32_t>(static_cast<const uint16_t*>(logits)[i]) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }
  return static_cast<const float*>(logits)[i];
}

inline float exp2_clamped(float t) { return std::exp2(std::max(t, kExp2Floor)); }

// Rows per parallel task: enough that each task reads at least ~256 KiB.
int64_t grain_for(int64_t V) { return std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(V, 1)); }

}  // namespace

void token_logprobs_forward_rows_scalar(const TokenLogprobsForwardArgs& a, int64_t begin, int64_t end) {
  const float scale = a.inv_temperature * kLog2e;
  for (int64_t r = begin; r < end; ++r) {
    const int64_t base = r * a.V;
    float max_logit = -INFINITY, sum = 0.0f, sum_et = 0.0f;  // sum_et = sum of e * t (log2 units)
    for (int64_t b = 0; b < a.V; b += kLogprobsBlock) {
      const int64_t n = std::min(kLogprobsBlock, a.V - b);
      float block_max = -INFINITY;
      for (int64_t i = 0; i < n; ++i) block_max = std::max(block_max, load_logit(a.logits, a.logits_bf16, base + b + i));
      if (block_max > max_logit) {
        if (max_logit != -INFINITY) {
          const float delta = (max_logit - block_max) * scale;  // <= 0, log2 units
          const float rescale = std::exp2(delta);
          sum_et = rescale * (sum_et + delta * sum);
          sum *= rescale;
        }
        max_logit = block_max;
      }
      if (max_logit == -INFINITY) continue;
      const float bias = -max_logit * scale;
      for (int64_t i = 0; i < n; ++i) {
        const float t = std::max(load_logit(a.logits, a.logits_bf16, base + b + i) * scale + bias, kExp2Floor);
        const float e = std::exp2(t);
        sum += e;
        sum_et += e * t;
      }
    }
    const float logz = max_logit * a.inv_temperature + std::log(sum);
    a.logz[r] = logz;
    a.logprobs[r] = load_logit(a.logits, a.logits_bf16, base + a.targets[r]) * a.inv_temperature - logz;
    if (a.entropy != nullptr) a.entropy[r] = clamp_entropy(std::log(sum) - kLn2 * sum_et / sum);
  }
}

void token_logprobs_backward_rows_scalar(const TokenLogprobsBackwardArgs& a, int64_t begin, int64_t end) {
  const float scale = a.inv_temperature * kLog2e;
  for (int64_t r = begin; r < end; ++r) {
    const int64_t base = r * a.V;
    float* dz = a.dlogits + base;
    const float g = a.dlogprobs[r];
    const float gh = a.dentropy != nullptr ? a.dentropy[r] : 0.0f;
    if (g == 0.0f && gh == 0.0f) {  // a masked row: no gradient at all
      std::fill(dz, dz + a.V, 0.0f);
      continue;
    }
    const float bias = -a.logz[r] * kLog2e;
    float h = 0.0f;
    if (gh != 0.0f) {
      if (a.entropy != nullptr) {
        h = a.entropy[r];
      } else {  // H = -ln2 * sum_v p_v t_v, with t_v = log2 p_v
        float sum_pt = 0.0f;
        for (int64_t v = 0; v < a.V; ++v) {
          const float t = std::max(load_logit(a.logits, a.logits_bf16, base + v) * scale + bias, kExp2Floor);
          sum_pt += std::exp2(t) * t;
        }
        h = clamp_entropy(-kLn2 * sum_pt);
      }
    }
    // dz_v = p_v * (c0 + c1 * t_v), t_v = log2 p_v
    const float c0 = -a.inv_temperature * (g + gh * h);
    const float c1 = -a.inv_temperature * gh * kLn2;
    for (int64_t v = 0; v < a.V; ++v) {
      const float t = std::max(load_logit(a.logits, a.logits_bf16, base + v) * scale + bias, kExp2Floor);
      dz[v] = exp2_clamped(t) * (c0 + c1 * t);
    }
    dz[a.targets[r]] += a.inv_temperature * g;
  }
}

void token_logprobs_forward_cpu(const TokenLogprobsForwardArgs& args, int64_t R) {
  const auto rows = STEPRL_SIMD_KERNEL(token_logprobs_forward_rows);
  parallel_for(R, grain_for(args.V), [&](int64_t begin, int64_t end) { rows(args, begin, end); });
}

void token_logprobs_backward_cpu(const TokenLogprobsBackwardArgs& args, int64_t R) {
  const auto rows = STEPRL_SIMD_KERNEL(token_logprobs_backward_rows);
  parallel_for(R, grain_for(args.V), [&](int64_t begin, int64_t end) { rows(args, begin, end); });
}

}  // namespace steprl::cpu
