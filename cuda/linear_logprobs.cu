// linear_logprobs.cu: the fused output projection + token log-probs (see linear_logprobs.h).
// Rows go in blocks of kRowBlock, the vocabulary in chunks; per (block, chunk):
//   forward   tile[nb, vc] = h . W_chunk^T (matmul_forward_cuda); one thread block per row folds the
//             tile row into SoftmaxStats (common.cuh), then thread 0 merges the chunk's logsumexp
//             and entropy into the row's running state in double (as native/cpu/linear_logprobs.cc);
//   backward  the tile is recomputed, turned into dz in place by one thread block per row
//             (dz_v = (g (1[v=t] - p_v) - gH p_v (y_v - logZ + H)) / tau), then
//             matmul_backward_cuda adds dz . W_chunk into dh and dz^T . h into dW_chunk.
// Gathered rows (options.rows) are copied into a block buffer and their gradient added back;
// bfloat16 hidden states or weights are widened into float32 block / chunk buffers the same way.
// When both are bfloat16, the logits tile (forward, and its recomputation in the backward) comes
// from the bf16 tensor-core GEMM (cuda/gemm_bf16.cu, fp32 accumulation) on the bf16 rows as they
// are (gathered rows copied as bf16); the backward's dz products stay fp32 SGEMMs (dz is fp32).
// Bytes per (block, chunk) tile: the GEMMs' traffic plus 2 passes over nb*vc floats (forward) or 1
// read + 1 write (backward); FLOPs 2*nb*vc*C per GEMM: compute-bound at real shapes.
// linear_policy_loss_cuda (the one-pass lm_head + policy loss) runs the same kernels per block of
// block_rows tokens, keeping every chunk's tile ([nb, V] floats) from the forward to the backward
// instead of recomputing it (3 GEMMs per tile instead of 4); between them block_dlogprobs_kernel
// gives the block's dℓ from policy_loss.cu's per-token code and row weights (policy_loss_rows.cuh).
#include "linear_logprobs.h"

#include <algorithm>
#include <memory>

#include "common.cuh"
#include "device.h"
#include "gemm_bf16.h"
#include "matmul.h"
#include "policy_loss.h"
#include "policy_loss_rows.cuh"

namespace steprl::cuda {
namespace {

constexpr int64_t kRowBlock = 1024;
constexpr int kThreads = 256;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2 = 0.693147180559945309f;

// out[i] = row (rows ? rows[i] : first + i) of a float32 or bfloat16 [*, C] matrix, as float32.
template <bool kBf16>
__global__ void __launch_bounds__(kThreads)
gather_rows_kernel(float* out, const void* src, const int32_t* rows, int64_t first, int64_t C) {
  const int64_t i = blockIdx.x;
  const int64_t row = rows != nullptr ? int64_t{rows[i]} : first + i;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    if constexpr (kBf16) out[i * C + c] = __uint_as_float(static_cast<unsigned>(static_cast<const unsigned short*>(src)[row * C + c]) << 16);
    else out[i * C + c] = static_cast<const float*>(src)[row * C + c];
  }
}

// out[i] = row (rows ? rows[i] : first + i) of a bfloat16 [*, C] matrix, kept bfloat16.
__global__ void __launch_bounds__(kThreads)
gather_rows_bf16_kernel(uint16_t* out, const uint16_t* src, const int32_t* rows, int64_t first, int64_t C) {
  const int64_t i = blockIdx.x;
  const int64_t row = rows != nullptr ? int64_t{rows[i]} : first + i;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) out[i * C + c] = src[row * C + c];
}

// The bf16 rows of a row block for the tensor-core GEMM: in place, or gathered into scratch.
const uint16_t* block_rows_bf16(const LinearLogprobsArgs& a, int64_t b0, int64_t nb, uint16_t* scratch) {
  const uint16_t* hidden = static_cast<const uint16_t*>(a.hidden);
  if (a.rows == nullptr) return hidden + b0 * a.C;
  STEPRL_LAUNCH(gather_rows_bf16_kernel, static_cast<int>(nb), kThreads, 0, stream(), scratch, hidden, a.rows + b0, b0, a.C);
  return scratch;
}

// Rows [first, first + n) (or rows[0..n)) of src as float32 [n, C] in out.
void gather(float* out, const void* src, bool bf16, const int32_t* rows, int64_t first, int64_t n, int64_t C) {
  if (n == 0) return;
  if (bf16) STEPRL_LAUNCH((gather_rows_kernel<true>), static_cast<int>(n), kThreads, 0, stream(), out, src, rows, first, C);
  else STEPRL_LAUNCH((gather_rows_kernel<false>), static_cast<int>(n), kThreads, 0, stream(), out, src, rows, first, C);
}

__global__ void __launch_bounds__(kThreads)
scatter_add_rows_kernel(float* dhidden, const float* block, const int32_t* rows, int64_t C) {  // dhidden[rows[i]] += block[i]
  const int64_t i = blockIdx.x;
  float* dst = dhidden + int64_t{rows[i]} * C;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) dst[c] += block[i * C + c];
}

__global__ void __launch_bounds__(kThreads)
reset_state_kernel(double* merged_logz, double* merged_mean, int64_t n) {
  const int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i < n) {
    merged_logz[i] = -INFINITY;
    merged_mean[i] = 0.0;
  }
}

// One block per row of the tile: the chunk's (logZ_c, H_c) merged into the row's running state.
__global__ void __launch_bounds__(kThreads)
chunk_forward_kernel(const float* tile, int64_t vc, int64_t c0, const int32_t* targets, float inv_temperature,
                     double* merged_logz, double* merged_mean, float* target_logit) {
  const int64_t r = blockIdx.x;
  const float* z = tile + r * vc;
  const float scale = inv_temperature * kLog2e;
  SoftmaxStats stats = softmax_identity();
  for (int64_t v = threadIdx.x; v < vc; v += blockDim.x) stats = softmax_combine(stats, SoftmaxStats{z[v], 1.0f, 0.0f}, scale);
  stats = block_reduce_softmax(stats, scale);
  if (threadIdx.x != 0) return;
  const int64_t t = targets[r];
  if (t >= c0 && t < c0 + vc) target_logit[r] = z[t - c0] * inv_temperature;
  if (stats.max == -INFINITY) return;  // every logit of the chunk is -inf
  const double l = static_cast<double>(stats.max) * inv_temperature + log(static_cast<double>(stats.sum));
  const double h = log(static_cast<double>(stats.sum)) - kLn2 * static_cast<double>(stats.dot) / stats.sum;
  const double L = merged_logz[r], top = L > l ? L : l;
  const double w_old = L == -INFINITY ? 0.0 : exp(L - top), w_new = exp(l - top);
  merged_mean[r] = (w_old * merged_mean[r] + w_new * (l - h)) / (w_old + w_new);
  merged_logz[r] = top + log(w_old + w_new);
}

__global__ void __launch_bounds__(kThreads)
finish_forward_kernel(float* logprobs, float* logz, float* entropy, const double* merged_logz, const double* merged_mean,
                      const float* target_logit, int64_t n) {
  const int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const double L = merged_logz[i];
  logz[i] = static_cast<float>(L);
  logprobs[i] = static_cast<float>(static_cast<double>(target_logit[i]) - L);
  if (entropy != nullptr) entropy[i] = static_cast<float>(L - merged_mean[i]);
}

// One block per row of the tile: logits -> dlogits in place.
__global__ void __launch_bounds__(kThreads)
chunk_backward_kernel(float* tile, int64_t vc, int64_t c0, const int32_t* targets, const float* logz,
                      const float* dlogprobs, const float* entropy, const float* dentropy, float inv_temperature) {
  const int64_t r = blockIdx.x;
  float* z = tile + r * vc;
  const float g = dlogprobs[r], gh = dentropy != nullptr ? dentropy[r] : 0.0f;
  if (g == 0.0f && gh == 0.0f) {  // a masked token: no gradient
    for (int64_t v = threadIdx.x; v < vc; v += blockDim.x) z[v] = 0.0f;
    return;
  }
  const float lz = logz[r], h = gh != 0.0f ? entropy[r] : 0.0f;
  const int64_t t = int64_t{targets[r]} - c0;
  for (int64_t v = threadIdx.x; v < vc; v += blockDim.x) {
    const float y = z[v] * inv_temperature;
    const float p = expf(y - lz);  // 0 for y = -inf
    const float centered = p > 0.0f ? y - lz + h : 0.0f;
    float d = -p * (g + gh * centered);
    if (v == t) d += g;
    z[v] = d * inv_temperature;
  }
}

// s c_r of each row as float32: the factor policy_loss.cu's kernels put on a token's gradient.
__global__ void __launch_bounds__(kThreads)
row_weights_kernel(float* weights, const double* row_tokens, const unsigned long long* total, int64_t R,
                   LossAggregation aggregation, double token_count, double row_count, double max_length,
                   double loss_scale) {
  const int64_t r = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (r < R)
    weights[r] = static_cast<float>(row_weight(aggregation, r, row_tokens, total, token_count, row_count, max_length, loss_scale));
}

// dℓ of tokens [b0, b0 + nb) from their ℓ, one thread per token (row = token / T): the per-token
// code of policy_loss.cu's tokens (clip) and modes (cispo) kernels; the sums come later from
// policy_loss_cuda over the whole batch.
template <bool kU8, bool kCispo>
__global__ void __launch_bounds__(kThreads)
block_dlogprobs_kernel(float* dlogprobs, const float* logprobs, const float* old_logprobs, const float* ref_logprobs,
                       const float* advantages, const void* mask, const float* weights, int64_t b0, int64_t nb,
                       int64_t T, TokenParams p) {
  const int64_t k = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (k >= nb) return;
  const int64_t i = b0 + k;
  float out = 0.0f;
  if (mask_on<kU8>(mask, i)) {
    ThreadSums unused;
    const float l = logprobs[i], old = old_logprobs[i], ref = p.has_ref ? ref_logprobs[i] : 0.0f, A = advantages[i];
    out = weights[i / T] * (kCispo ? cispo_token_gradient(p, l, old, ref, A, unused) : token_gradient(p, l, old, ref, A, unused));
  }
  dlogprobs[i] = out;
}

int blocks_for(int64_t n) { return static_cast<int>(ceil_div(n, kThreads)); }

// Weight rows [c0, c0 + vc) as float32: in place, or widened from bfloat16 into scratch.
const float* chunk_weight(const LinearLogprobsArgs& a, int64_t c0, int64_t vc, float* scratch) {
  if (!a.weight_bf16) return static_cast<const float*>(a.weight) + c0 * a.C;
  gather(scratch, a.weight, true, nullptr, c0, vc, a.C);
  return scratch;
}

}  // namespace

void fill_zero_cuda(float* data, int64_t count) {
  if (count > 0) fill_bytes(data, 0, static_cast<size_t>(count) * sizeof(float));
}

namespace {

// The row blocks of a pass that writes dhidden (the backward and the one-pass loss): the block's
// hidden rows as float32 (gathered when the op addresses rows by offsets or takes bf16 hidden),
// the bf16 rows the tensor-core forward tiles read, and the block's dhidden (dhidden itself, or a
// zeroed scratch block added back to rows[] by finish()).
class GradBlocks {
 public:
  GradBlocks(const LinearLogprobsArgs& a, int64_t nb_max, float* dhidden)
      : a_(a), dhidden_(dhidden), tensor_cores_(a.hidden_bf16 && a.weight_bf16),
        gather_hidden_(a.rows != nullptr || a.hidden_bf16),
        gathered_(allocate(gather_hidden_ ? bytes(nb_max) : 0)), dh_block_(allocate(a.rows != nullptr ? bytes(nb_max) : 0)),
        gathered16_(allocate(tensor_cores_ && a.rows != nullptr ? static_cast<size_t>(nb_max * a.C) * sizeof(uint16_t) : 0)) {}

  bool tensor_cores() const { return tensor_cores_; }

  struct Block {
    const float* h;
    float* dh;
    const uint16_t* h16;  // null unless tensor_cores()
  };

  Block start(int64_t b0, int64_t nb) {
    Block out{static_cast<const float*>(a_.hidden) + b0 * a_.C, dhidden_ + b0 * a_.C, nullptr};
    if (gather_hidden_) {
      gather(gathered_->as<float>(), a_.hidden, a_.hidden_bf16, a_.rows != nullptr ? a_.rows + b0 : nullptr, b0, nb, a_.C);
      out.h = gathered_->as<float>();
    }
    if (a_.rows != nullptr) {
      out.dh = dh_block_->as<float>();
      fill_zero_cuda(out.dh, nb * a_.C);
    }
    if (tensor_cores_) out.h16 = block_rows_bf16(a_, b0, nb, gathered16_->as<uint16_t>());
    return out;
  }

  void finish(int64_t b0, int64_t nb) {
    if (a_.rows != nullptr)
      STEPRL_LAUNCH(scatter_add_rows_kernel, static_cast<int>(nb), kThreads, 0, stream(), dhidden_, dh_block_->as<float>(),
                    a_.rows + b0, a_.C);
  }

 private:
  size_t bytes(int64_t rows) const { return static_cast<size_t>(rows * a_.C) * sizeof(float); }
  const LinearLogprobsArgs& a_;
  float* dhidden_;
  bool tensor_cores_, gather_hidden_;
  std::shared_ptr<DeviceAllocation> gathered_, dh_block_, gathered16_;
};

}  // namespace

void linear_logprobs_forward_cuda(const LinearLogprobsArgs& a, const LinearLogprobsOutputs& out) {
  if (a.N == 0) return;
  const int64_t chunk = std::min(a.chunk, a.V), nb_max = std::min(a.N, kRowBlock);
  auto tile = allocate(static_cast<size_t>(nb_max * chunk) * sizeof(float));
  const bool tensor_cores = a.hidden_bf16 && a.weight_bf16;
  const bool gather_hidden = !tensor_cores && (a.rows != nullptr || a.hidden_bf16);
  auto gathered = allocate(gather_hidden ? static_cast<size_t>(nb_max * a.C) * sizeof(float) : 0);
  auto gathered16 = allocate(tensor_cores && a.rows != nullptr ? static_cast<size_t>(nb_max * a.C) * sizeof(uint16_t) : 0);
  auto widened = allocate(a.weight_bf16 && !tensor_cores ? static_cast<size_t>(chunk * a.C) * sizeof(float) : 0);
  auto state = allocate(static_cast<size_t>(nb_max) * (2 * sizeof(double) + sizeof(float)));
  double* merged_logz = state->as<double>();
  double* merged_mean = merged_logz + nb_max;
  float* target_logit = reinterpret_cast<float*>(merged_mean + nb_max);
  for (int64_t b0 = 0; b0 < a.N; b0 += kRowBlock) {
    const int64_t nb = std::min(kRowBlock, a.N - b0);
    const float* h = static_cast<const float*>(a.hidden) + b0 * a.C;
    if (gather_hidden) {
      gather(gathered->as<float>(), a.hidden, a.hidden_bf16, a.rows != nullptr ? a.rows + b0 : nullptr, b0, nb, a.C);
      h = gathered->as<float>();
    }
    const uint16_t* h16 = tensor_cores ? block_rows_bf16(a, b0, nb, gathered16->as<uint16_t>()) : nullptr;
    STEPRL_LAUNCH(reset_state_kernel, blocks_for(nb), kThreads, 0, stream(), merged_logz, merged_mean, nb);
    for (int64_t c0 = 0; c0 < a.V; c0 += chunk) {
      const int64_t vc = std::min(chunk, a.V - c0);
      if (tensor_cores)
        matmul_bf16_forward_cuda({tile->as<float>(), h16, static_cast<const uint16_t*>(a.weight) + c0 * a.C, nullptr, nullptr,
                                  nb, a.C, vc});
      else
        matmul_forward_cuda({tile->as<float>(), h, chunk_weight(a, c0, vc, widened->as<float>()), nullptr, nullptr, nb, a.C, vc});
      STEPRL_LAUNCH(chunk_forward_kernel, static_cast<int>(nb), kThreads, 0, stream(), tile->as<float>(), vc, c0,
                    a.targets + b0, a.inv_temperature, merged_logz, merged_mean, target_logit);
    }
    STEPRL_LAUNCH(finish_forward_kernel, blocks_for(nb), kThreads, 0, stream(), out.logprobs + b0, out.logz + b0,
                  out.entropy != nullptr ? out.entropy + b0 : nullptr, merged_logz, merged_mean, target_logit, nb);
  }
}

void linear_logprobs_backward_cuda(const LinearLogprobsArgs& a, const LinearLogprobsGrads& g) {
  if (a.N == 0) return;
  const int64_t chunk = std::min(a.chunk, a.V), nb_max = std::min(a.N, kRowBlock);
  auto tile = allocate(static_cast<size_t>(nb_max * chunk) * sizeof(float));
  auto widened = allocate(a.weight_bf16 ? static_cast<size_t>(chunk * a.C) * sizeof(float) : 0);
  GradBlocks blocks(a, nb_max, g.dhidden);
  const bool tensor_cores = blocks.tensor_cores();  // the tile as the forward computed it
  for (int64_t b0 = 0; b0 < a.N; b0 += kRowBlock) {
    const int64_t nb = std::min(kRowBlock, a.N - b0);
    const auto [h, dh, h16] = blocks.start(b0, nb);
    for (int64_t c0 = 0; c0 < a.V; c0 += chunk) {
      const int64_t vc = std::min(chunk, a.V - c0);
      float* tz = tile->as<float>();
      const float* w = chunk_weight(a, c0, vc, widened->as<float>());
      if (tensor_cores)
        matmul_bf16_forward_cuda({tz, h16, static_cast<const uint16_t*>(a.weight) + c0 * a.C, nullptr, nullptr, nb, a.C, vc});
      else
        matmul_forward_cuda({tz, h, w, nullptr, nullptr, nb, a.C, vc});
      STEPRL_LAUNCH(chunk_backward_kernel, static_cast<int>(nb), kThreads, 0, stream(), tz, vc, c0, a.targets + b0,
                    g.logz + b0, g.dlogprobs + b0, g.entropy != nullptr ? g.entropy + b0 : nullptr,
                    g.dentropy != nullptr ? g.dentropy + b0 : nullptr, a.inv_temperature);
      matmul_backward_cuda({dh, g.dweight != nullptr ? g.dweight + c0 * a.C : nullptr, nullptr, tz, h, w, nb, a.C, vc});
    }
    blocks.finish(b0, nb);
  }
}

PolicyLossResult linear_policy_loss_cuda(const LinearLogprobsArgs& a, const PolicyLossArgs& loss, int64_t block_rows,
                                         const LinearPolicyLossOutputs& out) {
  PolicyLossArgs pl = loss;
  pl.logprobs = out.logprobs;
  pl.dlogprobs = out.dlogprobs;
  if (a.N == 0) return policy_loss_cuda(pl);
  const int64_t R = pl.R, T = pl.T;

  // The rows' weights from the mask, which is validated first: a bad value throws before any output
  // (or a given dhidden / dweight) is written.
  auto counts = allocate(static_cast<size_t>(R) * sizeof(double) + sizeof(unsigned long long));
  double* row_tokens = counts->as<double>();
  auto* total = reinterpret_cast<unsigned long long*>(row_tokens + R);
  fill_bytes(total, 0, sizeof(unsigned long long));
  const ErrorIndex bad_mask;
  const unsigned row_blocks = static_cast<unsigned>(R < (int64_t{1} << 30) ? R : (int64_t{1} << 30));
  const int count_threads = threads_for(T, 8, kPolicyLossThreads);
  if (pl.mask_u8)
    STEPRL_LAUNCH(policy_loss_count_kernel<true>, row_blocks, count_threads, 0, stream(), row_tokens, total, pl.mask, R, T,
                  bad_mask.device());
  else
    STEPRL_LAUNCH(policy_loss_count_kernel<false>, row_blocks, count_threads, 0, stream(), row_tokens, total, pl.mask, R, T,
                  bad_mask.device());
  throw_if_bad_mask(pl, bad_mask);
  auto weights = allocate(static_cast<size_t>(R) * sizeof(float));
  STEPRL_LAUNCH(row_weights_kernel, blocks_for(R), kThreads, 0, stream(), weights->as<float>(), row_tokens, total, R,
                pl.aggregation, pl.token_count, pl.row_count, pl.max_length, pl.loss_scale);
  const TokenParams params{1.0f - pl.clip_low, 1.0f + pl.clip_high, pl.dual_clip, pl.kl_coef, pl.kl_estimator,
                           pl.ref_logprobs != nullptr};
  const bool cispo = pl.mode == PolicyLossMode::cispo;
  auto loss_rows = [&](int64_t b0, int64_t nb) {
    const int blocks = blocks_for(nb);
    const float* w = weights->as<float>();
#define STEPRL_BLOCK_DLOGPROBS(U8, CISPO)                                                                              \
  STEPRL_LAUNCH((block_dlogprobs_kernel<U8, CISPO>), blocks, kThreads, 0, stream(), out.dlogprobs, out.logprobs,      \
                pl.old_logprobs, pl.ref_logprobs, pl.advantages, pl.mask, w, b0, nb, T, params)
    if (pl.mask_u8) {
      if (cispo) STEPRL_BLOCK_DLOGPROBS(true, true);
      else STEPRL_BLOCK_DLOGPROBS(true, false);
    } else {
      if (cispo) STEPRL_BLOCK_DLOGPROBS(false, true);
      else STEPRL_BLOCK_DLOGPROBS(false, false);
    }
#undef STEPRL_BLOCK_DLOGPROBS
  };

  // The buffers of the two-pass kernels, with the block's logits over the whole vocabulary kept:
  // chunk c0's tile [nb, vc] at logits + nb * c0.
  const int64_t chunk = std::min(a.chunk, a.V), nb_max = std::min(a.N, block_rows);
  auto logits = allocate(static_cast<size_t>(nb_max * a.V) * sizeof(float));
  GradBlocks blocks(a, nb_max, out.dhidden);  // the backward's products take float32 rows
  const bool tensor_cores = blocks.tensor_cores();  // the forward's tiles from the bf16 GEMM
  auto widened = allocate(a.weight_bf16 ? static_cast<size_t>(chunk * a.C) * sizeof(float) : 0);
  auto state = allocate(static_cast<size_t>(nb_max) * (2 * sizeof(double) + sizeof(float)));
  double* merged_logz = state->as<double>();
  double* merged_mean = merged_logz + nb_max;
  float* target_logit = reinterpret_cast<float*>(merged_mean + nb_max);
  for (int64_t b0 = 0; b0 < a.N; b0 += block_rows) {
    const int64_t nb = std::min(block_rows, a.N - b0);
    const auto [h, dh, h16] = blocks.start(b0, nb);
    // Forward: every chunk's tile, kept; ℓ and logZ of the block.
    STEPRL_LAUNCH(reset_state_kernel, blocks_for(nb), kThreads, 0, stream(), merged_logz, merged_mean, nb);
    for (int64_t c0 = 0; c0 < a.V; c0 += chunk) {
      const int64_t vc = std::min(chunk, a.V - c0);
      float* tz = logits->as<float>() + nb * c0;
      if (tensor_cores)
        matmul_bf16_forward_cuda({tz, h16, static_cast<const uint16_t*>(a.weight) + c0 * a.C, nullptr, nullptr, nb, a.C, vc});
      else
        matmul_forward_cuda({tz, h, chunk_weight(a, c0, vc, widened->as<float>()), nullptr, nullptr, nb, a.C, vc});
      STEPRL_LAUNCH(chunk_forward_kernel, static_cast<int>(nb), kThreads, 0, stream(), tz, vc, c0, a.targets + b0,
                    a.inv_temperature, merged_logz, merged_mean, target_logit);
    }
    STEPRL_LAUNCH(finish_forward_kernel, blocks_for(nb), kThreads, 0, stream(), out.logprobs + b0, out.logz + b0, nullptr,
                  merged_logz, merged_mean, target_logit, nb);
    // dℓ of the block's tokens.
    loss_rows(b0, nb);
    // Backward from the kept tiles: dlogits in place, dh += dz . W_chunk, dW_chunk += dz^T . h.
    for (int64_t c0 = 0; c0 < a.V; c0 += chunk) {
      const int64_t vc = std::min(chunk, a.V - c0);
      float* tz = logits->as<float>() + nb * c0;
      const float* w = chunk_weight(a, c0, vc, widened->as<float>());
      STEPRL_LAUNCH(chunk_backward_kernel, static_cast<int>(nb), kThreads, 0, stream(), tz, vc, c0, a.targets + b0,
                    out.logz + b0, out.dlogprobs + b0, nullptr, nullptr, a.inv_temperature);
      matmul_backward_cuda({dh, out.dweight != nullptr ? out.dweight + c0 * a.C : nullptr, nullptr, tz, h, w, nb, a.C, vc});
    }
    blocks.finish(b0, nb);
  }
  // The scalars: policy_loss_cuda over the batch's ℓ, its fixed-order row sums (its dℓ, the same
  // per-token code and weights as above, goes to scratch so out.dlogprobs stays what dhidden used).
  auto scratch = allocate(static_cast<size_t>(a.N) * sizeof(float));
  PolicyLossArgs sums = pl;
  sums.dlogprobs = scratch->as<float>();
  return policy_loss_cuda(sums);
}

}  // namespace steprl::cuda
