// linear_logprobs.cc: the fused lm_head + token log-prob kernels (see linear_logprobs.h), built
// from the CPU sgemm and the token_logprobs row kernels of the active SIMD level.
#include "linear_logprobs.h"
#include "linear_tiles.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "matmul.h"
#include "parallel.h"
#include "simd.h"
#include "token_logprobs.h"

namespace steprl::cpu {
namespace {

using ForwardRows = void (*)(const TokenLogprobsForwardArgs&, int64_t, int64_t);
using BackwardRows = void (*)(const TokenLogprobsBackwardArgs&, int64_t, int64_t);

// Rows per parallel task over a tile row of `ld` floats: ~256 KiB of logits per task.
int64_t grain_for(int64_t ld) { return std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(ld, 1)); }

inline float bf16_to_float(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &wide, sizeof f);
  return f;
}

// Row `row` of a [*, C] float32 or bfloat16 matrix, as float32, into dst.
void copy_row(float* dst, const void* src, int bf16, int64_t row, int64_t C) {
  if (bf16) {
    const uint16_t* s = static_cast<const uint16_t*>(src) + row * C;
    for (int64_t c = 0; c < C; ++c) dst[c] = bf16_to_float(s[c]);
  } else if (C != 0) {
    std::memcpy(dst, static_cast<const float*>(src) + row * C, static_cast<size_t>(C) * sizeof(float));
  }
}

}  // namespace

namespace linear_tiles {

const float* block_hidden(const LinearLogprobsArgs& a, int64_t b0, int64_t nb, std::vector<float>& scratch) {
  if (a.rows == nullptr && !a.hidden_bf16) return static_cast<const float*>(a.hidden) + b0 * a.C;
  scratch.resize(static_cast<size_t>(nb * a.C));
  parallel_for(nb, 64, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      copy_row(scratch.data() + i * a.C, a.hidden, a.hidden_bf16, a.rows != nullptr ? int64_t{a.rows[b0 + i]} : b0 + i, a.C);
  });
  return scratch.data();
}

const float* chunk_weight(const LinearLogprobsArgs& a, int64_t c0, int64_t vc, std::vector<float>& scratch) {
  if (!a.weight_bf16) return static_cast<const float*>(a.weight) + c0 * a.C;
  scratch.resize(static_cast<size_t>(vc * a.C));
  parallel_for(vc, 256, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) copy_row(scratch.data() + j * a.C, a.weight, 1, c0 + j, a.C);
  });
  return scratch.data();
}

void compute_tile(const LinearLogprobsArgs& a, const float* h, const float* w, int64_t b0, int64_t nb, int64_t c0,
                  int64_t vc, float* tile, int32_t* local) {
  const int64_t ld = vc + 1;
  sgemm(false, true, nb, vc, a.C, 1.0f, h, a.C, w, a.C, 0.0f, tile, ld);
  for (int64_t i = 0; i < nb; ++i) {
    tile[i * ld + vc] = -INFINITY;
    const int64_t t = a.targets[b0 + i];
    local[i] = static_cast<int32_t>(t >= c0 && t < c0 + vc ? t - c0 : vc);
  }
}

ForwardMerge::ForwardMerge(int64_t nb_max, bool entropy)
    : entropy_(entropy),
      chunk_logz_(static_cast<size_t>(nb_max)),
      chunk_logprob_(static_cast<size_t>(nb_max)),
      chunk_entropy_(entropy ? static_cast<size_t>(nb_max) : 0),
      target_logit_(static_cast<size_t>(nb_max)),
      merged_logz_(static_cast<size_t>(nb_max)),
      merged_mean_(static_cast<size_t>(nb_max)) {}

void ForwardMerge::start(int64_t nb) {
  std::fill(merged_logz_.begin(), merged_logz_.begin() + nb, -INFINITY);
  std::fill(merged_mean_.begin(), merged_mean_.begin() + nb, 0.0);
}

// Per token, merged over the chunks so far: L = log sum exp y, E = softmax-weighted mean of y
// (only for the entropy), and y[target].
void ForwardMerge::add_chunk(const LinearLogprobsArgs& a, const float* tile, const int32_t* local, int64_t nb,
                             int64_t vc) {
  const ForwardRows rows_kernel = STEPRL_SIMD_KERNEL(token_logprobs_forward_rows);
  const int64_t ld = vc + 1;
  const TokenLogprobsForwardArgs row_args{chunk_logprob_.data(), chunk_logz_.data(),
                                          entropy_ ? chunk_entropy_.data() : nullptr,
                                          tile, 0, local, ld, a.inv_temperature};
  parallel_for(nb, grain_for(ld), [&](int64_t begin, int64_t end) {
    rows_kernel(row_args, begin, end);
    for (int64_t i = begin; i < end; ++i) {
      if (local[i] < vc) target_logit_[i] = tile[i * ld + local[i]] * a.inv_temperature;
      const double l = chunk_logz_[i];
      if (l == -INFINITY) continue;  // every logit of the chunk is -inf
      const double L = merged_logz_[i], top = std::max(L, l);
      const double w_old = L == -INFINITY ? 0.0 : std::exp(L - top), w_new = std::exp(l - top);
      const double merged = top + std::log(w_old + w_new);
      if (entropy_) {
        const double mean = l - chunk_entropy_[i];  // E_chunk[y] = logZ_chunk - H_chunk
        merged_mean_[i] = (w_old * merged_mean_[i] + w_new * mean) / (w_old + w_new);
      }
      merged_logz_[i] = merged;
    }
  });
}

void ForwardMerge::finish(int64_t b0, int64_t nb, const LinearLogprobsOutputs& out) const {
  for (int64_t i = 0; i < nb; ++i) {
    const double L = merged_logz_[i];
    out.logz[b0 + i] = static_cast<float>(L);
    out.logprobs[b0 + i] = static_cast<float>(static_cast<double>(target_logit_[i]) - L);
    if (out.entropy != nullptr) out.entropy[b0 + i] = static_cast<float>(L - merged_mean_[i]);
  }
}

void backward_chunk(const LinearLogprobsArgs& a, const LinearLogprobsGrads& g, const float* h, const float* w,
                    int64_t b0, int64_t nb, int64_t c0, int64_t vc, float* tile, const int32_t* local, float* dh) {
  const BackwardRows rows_kernel = STEPRL_SIMD_KERNEL(token_logprobs_backward_rows);
  const int64_t ld = vc + 1;
  // dlogits over the tile, in place (each element is read before it is written).
  const TokenLogprobsBackwardArgs row_args{tile, tile, 0, local, g.logz + b0,
                                           g.dlogprobs + b0, g.entropy != nullptr ? g.entropy + b0 : nullptr,
                                           g.dentropy != nullptr ? g.dentropy + b0 : nullptr, ld,
                                           a.inv_temperature, 0};
  parallel_for(nb, grain_for(ld), [&](int64_t begin, int64_t end) { rows_kernel(row_args, begin, end); });
  sgemm(false, false, nb, a.C, vc, 1.0f, tile, ld, w, a.C, 1.0f, dh, a.C);
  if (g.dweight != nullptr) sgemm(true, false, vc, a.C, nb, 1.0f, tile, ld, h, a.C, 1.0f, g.dweight + c0 * a.C, a.C);
}

void scatter_rows(const LinearLogprobsArgs& a, float* dhidden, const float* dh_block, int64_t b0, int64_t nb) {
  parallel_for(nb, 64, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float* dst = dhidden + int64_t{a.rows[b0 + i]} * a.C;
      const float* src = dh_block + i * a.C;
      for (int64_t c = 0; c < a.C; ++c) dst[c] += src[c];
    }
  });
}

}  // namespace linear_tiles

using namespace linear_tiles;

void linear_logprobs_forward_cpu(const LinearLogprobsArgs& a, const LinearLogprobsOutputs& out) {
  if (a.N == 0) return;
  const int64_t chunk = std::min(a.chunk, a.V), nb_max = std::min(a.N, kLinearRowBlock);
  std::vector<float> tile(static_cast<size_t>(nb_max * (chunk + 1))), gathered, widened;
  std::vector<int32_t> local(static_cast<size_t>(nb_max));
  ForwardMerge merge(nb_max, out.entropy != nullptr);
  for (int64_t b0 = 0; b0 < a.N; b0 += kLinearRowBlock) {
    const int64_t nb = std::min(kLinearRowBlock, a.N - b0);
    const float* h = block_hidden(a, b0, nb, gathered);
    merge.start(nb);
    for (int64_t c0 = 0; c0 < a.V; c0 += chunk) {
      const int64_t vc = std::min(chunk, a.V - c0);
      compute_tile(a, h, chunk_weight(a, c0, vc, widened), b0, nb, c0, vc, tile.data(), local.data());
      merge.add_chunk(a, tile.data(), local.data(), nb, vc);
    }
    merge.finish(b0, nb, out);
  }
}

void linear_logprobs_backward_cpu(const LinearLogprobsArgs& a, const LinearLogprobsGrads& g) {
  if (a.N == 0) return;
  const int64_t chunk = std::min(a.chunk, a.V), nb_max = std::min(a.N, kLinearRowBlock);
  std::vector<float> tile(static_cast<size_t>(nb_max * (chunk + 1))), gathered, dh_block, widened;
  std::vector<int32_t> local(static_cast<size_t>(nb_max));
  if (a.rows != nullptr) dh_block.resize(static_cast<size_t>(nb_max * a.C));

  for (int64_t b0 = 0; b0 < a.N; b0 += kLinearRowBlock) {
    const int64_t nb = std::min(kLinearRowBlock, a.N - b0);
    const float* h = block_hidden(a, b0, nb, gathered);
    // dh of this block: straight into dhidden, or (gathered rows) into a zeroed block added after.
    float* dh = a.rows == nullptr ? g.dhidden + b0 * a.C : dh_block.data();
    if (a.rows != nullptr) std::fill(dh_block.begin(), dh_block.begin() + nb * a.C, 0.0f);
    for (int64_t c0 = 0; c0 < a.V; c0 += chunk) {
      const int64_t vc = std::min(chunk, a.V - c0);
      const float* w = chunk_weight(a, c0, vc, widened);
      compute_tile(a, h, w, b0, nb, c0, vc, tile.data(), local.data());
      backward_chunk(a, g, h, w, b0, nb, c0, vc, tile.data(), local.data(), dh);
    }
    if (a.rows != nullptr) scatter_rows(a, g.dhidden, dh_block.data(), b0, nb);
  }
}

}  // namespace steprl::cpu
