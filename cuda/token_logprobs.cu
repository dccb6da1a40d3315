// token_logprobs.cu: log-probabilities and entropies of the sampled tokens from logits, forward and
// backward, one block per row (R rows of V logits, float32 or bfloat16):
//   forward   one pass over the row: an online softmax triple (max, sum 2^t, sum 2^t t) per thread
//             (common.cuh SoftmaxStats), one block reduction, then logZ, logprob and entropy;
//   backward  dz_v = p_v (c0 + c1 log2 p_v) + 1[v = target] g / tau, c0 = -(g + gH H)/tau,
//             c1 = -gH ln2 / tau, with p_v = 2^(z_v c - logZ log2 e), c = log2 e / tau; each dz
//             written once (a masked row, g = gH = 0, is only zeroed); the entropy is recomputed by
//             a first pass over the row only when dentropy is given without it.
// Same math as native/cpu/token_logprobs.cc (ALGORITHMS.md §0 chain rule, §1.9 entropy).
// Memory: 16-byte loads (4 fp32 or 8 bf16) two per thread in flight, 16-byte stores, fp32
// accumulation. A row's first elements up to a 16-byte boundary and its last partial vector are
// done one element per thread, so any V and any row alignment work; if logits and dlogits are
// aligned differently (views), that row is done one element per thread throughout.
// Bytes per launch: forward R*V*s + 16R (s = 4 or 2), backward R*V*(s + 4) (+ R*V*s when the
// entropy is recomputed): memory-bound on an H100 (3.35 TB/s) at ~8 instructions per element.
#include "token_logprobs.h"

#include <string>

#include "common.cuh"
#include "device.h"

namespace steprl::cuda {
namespace {

constexpr int kMaxThreads = 256;
// kLog2e, kLn2, kExp2Floor: include/steprl/token_logprobs.h, the CPU's constants.

// Logits widened to float: kVec elements per 16-byte vector, or one at a time.
template <bool kBf16> struct Logits;
template <> struct Logits<false> {
  using Element = float;
  static constexpr int kVec = 4;
  __device__ static float load(const float* p) { return __ldg(p); }
  __device__ static void load_vec(const float* p, float (&x)[kVec]) {
    const float4 v = load_float4(p);
    x[0] = v.x, x[1] = v.y, x[2] = v.z, x[3] = v.w;
  }
};
template <> struct Logits<true> {
  using Element = unsigned short;  // bfloat16 bits: the high half of a float
  static constexpr int kVec = 8;
  __device__ static float load(const unsigned short* p) { return __uint_as_float(static_cast<unsigned>(__ldg(p)) << 16); }
  __device__ static void load_vec(const unsigned short* p, float (&x)[kVec]) {
    const uint4 v = load_uint4(p);
    const unsigned words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      x[2 * i] = __uint_as_float(words[i] << 16);            // little endian: the lower address
      x[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
    }
  }
};

// Elements before the first 16-byte boundary of `p` (all of them when vectors cannot be used).
template <typename T>
__device__ __forceinline__ int64_t head_elements(const T* p, int64_t n, bool vectors) {
  if (!vectors) return n;
  const int64_t head = static_cast<int64_t>((16 - reinterpret_cast<std::uintptr_t>(p) % 16) % 16 / sizeof(T));
  return head < n ? head : n;
}

// Calls visit(x, position) over one row of n logits, the block's threads striding through it:
// single elements (x of length 1) before the first 16-byte boundary and after the last whole
// vector, vectors of kVec in between, two loads in flight per thread.
template <typename L, typename Visit>
__device__ __forceinline__ void for_each_in_row(const typename L::Element* z, int64_t n, bool vectors, Visit&& visit) {
  constexpr int kVec = L::kVec;
  const int64_t head = head_elements(z, n, vectors);
  const int64_t stride = blockDim.x;
  for (int64_t i = threadIdx.x; i < head; i += stride) {
    float x[1] = {L::load(z + i)};
    visit(x, i);
  }
  const int64_t count = (n - head) / kVec;  // whole vectors
  const typename L::Element* body = z + head;
  int64_t v = threadIdx.x;
  for (; v + stride < count; v += 2 * stride) {
    float a[kVec], b[kVec];
    L::load_vec(body + v * kVec, a);
    L::load_vec(body + (v + stride) * kVec, b);
    visit(a, head + v * kVec);
    visit(b, head + (v + stride) * kVec);
  }
  if (v < count) {
    float a[kVec];
    L::load_vec(body + v * kVec, a);
    visit(a, head + v * kVec);
  }
  for (int64_t i = head + count * kVec + threadIdx.x; i < n; i += stride) {
    float x[1] = {L::load(z + i)};
    visit(x, i);
  }
}

// Adds N logits to a thread's softmax triple: rebase once to the new max, then sum 2^t and 2^t t.
template <int N>
__device__ __forceinline__ void accumulate(SoftmaxStats& s, const float (&x)[N], float scale) {
  float m = s.max;
#pragma unroll
  for (int i = 0; i < N; ++i) m = fmaxf(m, x[i]);
  if (m == -INFINITY) return;  // nothing but -inf so far
  s = softmax_rebase(s, m, scale);
#pragma unroll
  for (int i = 0; i < N; ++i) {
    float t = (x[i] - m) * scale;
    t = t < kExp2Floor ? kExp2Floor : t;  // NaN passes through and poisons the row, as on the CPU
    const float e = exp2f(t);
    s.sum += e;
    s.dot = fmaf(e, t, s.dot);
  }
}

// A row whose target lies outside [0, V): the whole block skips it; the launcher reports the
// smallest such row, which is the CPU's "first bad index".
__device__ __forceinline__ bool bad_target(int32_t target, int64_t V, int64_t row, unsigned long long* bad_row) {
  if (target >= 0 && target < V) return false;
  if (threadIdx.x == 0) atomicMin(bad_row, static_cast<unsigned long long>(row));
  return true;
}

// H >= 0, but ln s - ln2 * d / s cancels in float32 when one token holds all the mass (a 1-wide
// vocabulary gives -1.8e-8): rounding below 0 is clamped to +0, NaN kept; the backward's
// recomputed H is clamped alike (as native/cpu/token_logprobs.h clamp_entropy).
__device__ __forceinline__ float clamp_entropy(float h) { return h <= 0.0f ? 0.0f : h; }

template <bool kBf16>
__global__ void __launch_bounds__(kMaxThreads)
token_logprobs_forward_kernel(float* logprobs, float* logz, float* entropy,  // [R] each; entropy may be null
                              const typename Logits<kBf16>::Element* logits,  // [R,V]
                              const int32_t* targets,                          // [R]
                              int64_t R, int64_t V, float inv_temperature, unsigned long long* bad_row) {
  using L = Logits<kBf16>;
  const float scale = inv_temperature * kLog2e;
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    const int32_t target = __ldg(targets + row);
    if (bad_target(target, V, row, bad_row)) continue;
    const typename L::Element* z = logits + row * V;
    SoftmaxStats s = softmax_identity();
    for_each_in_row<L>(z, V, true, [&](const auto& x, int64_t) { accumulate(s, x, scale); });
    s = block_reduce_softmax(s, scale);
    if (threadIdx.x == 0) {
      const float log_sum = logf(s.sum);
      const float lz = s.max * inv_temperature + log_sum;
      logz[row] = lz;
      logprobs[row] = L::load(z + target) * inv_temperature - lz;
      if (entropy != nullptr) entropy[row] = clamp_entropy(log_sum - kLn2 * s.dot / s.sum);
    }
  }
}

// Writes N gradients at dz[position..]: one 16-byte store for a whole vector of 4.
template <int N>
__device__ __forceinline__ void store_gradients(float* dz, int64_t position, const float (&d)[N]) {
  if constexpr (N % 4 == 0) {
#pragma unroll
    for (int i = 0; i < N; i += 4) store_float4(dz + position + i, make_float4(d[i], d[i + 1], d[i + 2], d[i + 3]));
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i) dz[position + i] = d[i];
  }
}

template <bool kBf16>
__global__ void __launch_bounds__(kMaxThreads)
token_logprobs_backward_kernel(float* dlogits,                                  // [R,V]
                               const typename Logits<kBf16>::Element* logits,   // [R,V]
                               const int32_t* targets,                          // [R]
                               const float* logz, const float* dlogprobs,       // [R] each
                               const float* entropy, const float* dentropy,     // [R] each, may be null
                               int64_t R, int64_t V, float inv_temperature, unsigned long long* bad_row) {
  using L = Logits<kBf16>;
  const float scale = inv_temperature * kLog2e;
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    const int32_t target = __ldg(targets + row);
    if (bad_target(target, V, row, bad_row)) continue;
    const typename L::Element* z = logits + row * V;
    float* dz = dlogits + row * V;
    // Vectors only when the 16-byte boundaries of the two rows fall on the same elements.
    const int64_t head = head_elements(z, V, true);
    const bool vectors = head == V || reinterpret_cast<std::uintptr_t>(dz + head) % 16 == 0;
    const float g = __ldg(dlogprobs + row);
    const float gh = dentropy != nullptr ? __ldg(dentropy + row) : 0.0f;
    if (g == 0.0f && gh == 0.0f) {  // a masked row: zeros, without reading the logits
      const int64_t zero_head = head_elements(dz, V, true);
      for (int64_t i = threadIdx.x; i < zero_head; i += blockDim.x) dz[i] = 0.0f;
      const int64_t count = (V - zero_head) / 4;
      for (int64_t v = threadIdx.x; v < count; v += blockDim.x) store_float4(dz + zero_head + 4 * v, make_float4(0.f, 0.f, 0.f, 0.f));
      for (int64_t i = zero_head + 4 * count + threadIdx.x; i < V; i += blockDim.x) dz[i] = 0.0f;
      continue;
    }
    const float bias = -__ldg(logz + row) * kLog2e;  // t_v = log2 p_v = z_v c + bias
    float h = 0.0f;
    if (gh != 0.0f) {
      if (entropy != nullptr) {
        h = __ldg(entropy + row);
      } else {  // H = -ln2 sum_v p_v t_v
        float sum_pt = 0.0f;
        for_each_in_row<L>(z, V, true, [&](const auto& x, int64_t) {
#pragma unroll
          for (int i = 0; i < static_cast<int>(sizeof(x) / sizeof(x[0])); ++i) {
            float t = fmaf(x[i], scale, bias);
            t = t < kExp2Floor ? kExp2Floor : t;
            sum_pt = fmaf(exp2f(t), t, sum_pt);
          }
        });
        h = clamp_entropy(-kLn2 * block_reduce_sum(sum_pt));
      }
    }
    const float c0 = -inv_temperature * (g + gh * h);
    const float c1 = -inv_temperature * gh * kLn2;
    const float g_target = inv_temperature * g;
    for_each_in_row<L>(z, V, vectors, [&](const auto& x, int64_t position) {
      constexpr int N = static_cast<int>(sizeof(x) / sizeof(x[0]));
      float d[N];
#pragma unroll
      for (int i = 0; i < N; ++i) {
        float t = fmaf(x[i], scale, bias);
        t = t < kExp2Floor ? kExp2Floor : t;
        d[i] = exp2f(t) * fmaf(c1, t, c0) + (position + i == target ? g_target : 0.0f);
      }
      store_gradients(dz, position, d);
    });
  }
}

// Threads per row: enough for about four vectors each, 32 to 256.
int threads_for(int64_t V, int vector_elements) {
  int threads = 32;
  while (threads < kMaxThreads && threads * int64_t{4} * vector_elements < V) threads *= 2;
  return threads;
}

unsigned blocks_for(int64_t R) { return static_cast<unsigned>(R < (int64_t{1} << 30) ? R : (int64_t{1} << 30)); }

// The CPU's message for the first bad target (row `row`), with the value read back.
[[noreturn]] void throw_bad_target(const int32_t* targets, uint64_t row, int64_t V) {
  int32_t value = 0;
  copy_to_host(&value, targets + row, sizeof value);
  throw ArgumentError("targets", "Expected every target in [0, " + std::to_string(V) + ") but received " +
                                     std::to_string(value) + " at index " + std::to_string(row));
}

}  // namespace

void token_logprobs_forward_cuda(const TokenLogprobsForwardArgs& a) {
  if (a.R == 0) return;
  const ErrorIndex bad_row;
  if (a.logits_bf16) {
    STEPRL_LAUNCH((token_logprobs_forward_kernel<true>), blocks_for(a.R), threads_for(a.V, 8), 0, stream(),
                  a.logprobs, a.logz, a.entropy, static_cast<const unsigned short*>(a.logits), a.targets, a.R, a.V,
                  a.inv_temperature, bad_row.device());
  } else {
    STEPRL_LAUNCH((token_logprobs_forward_kernel<false>), blocks_for(a.R), threads_for(a.V, 4), 0, stream(),
                  a.logprobs, a.logz, a.entropy, static_cast<const float*>(a.logits), a.targets, a.R, a.V,
                  a.inv_temperature, bad_row.device());
  }
  const uint64_t row = bad_row.read();
  if (row != ErrorIndex::kNone) throw_bad_target(a.targets, row, a.V);
}

void token_logprobs_backward_cuda(const TokenLogprobsBackwardArgs& a) {
  if (a.R == 0) return;
  const ErrorIndex bad_row;
  if (a.logits_bf16) {
    STEPRL_LAUNCH((token_logprobs_backward_kernel<true>), blocks_for(a.R), threads_for(a.V, 8), 0, stream(),
                  a.dlogits, static_cast<const unsigned short*>(a.logits), a.targets, a.logz, a.dlogprobs, a.entropy,
                  a.dentropy, a.R, a.V, a.inv_temperature, bad_row.device());
  } else {
    STEPRL_LAUNCH((token_logprobs_backward_kernel<false>), blocks_for(a.R), threads_for(a.V, 4), 0, stream(),
                  a.dlogits, static_cast<const float*>(a.logits), a.targets, a.logz, a.dlogprobs, a.entropy,
                  a.dentropy, a.R, a.V, a.inv_temperature, bad_row.device());
  }
  const uint64_t row = bad_row.read();
  if (row != ErrorIndex::kNone) throw_bad_target(a.targets, row, a.V);
}

}  // namespace steprl::cuda
