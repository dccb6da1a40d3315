// token_logprobs_simd.inl: the token log-prob kernels, written once over the vector type `Vec` of
// the including ISA translation unit (simd_kernels.inl), for fp32 and bf16 logits.
//
// Forward: per 1024-element block, a max pass then an exp pass over the same L1-resident block;
// the running sums are rescaled when the max grows, so each row is read from memory once.
// Backward: p_v = 2^t_v with t_v = log2 p_v recomputed from logZ; dz = p * (c0 + c1 * t) is
// written once, with streaming stores for large outputs (no read-for-ownership, no cache eviction
// of the logits still to be read). Masked rows (zero upstream gradient) are plain zero fills.

namespace {
namespace token_logprobs_simd {

inline float scalar_logit(const float* p) { return *p; }
inline float scalar_logit(const uint16_t* p) {
  uint32_t bits = static_cast<uint32_t>(*p) << 16;
  float f;
  __builtin_memcpy(&f, &bits, sizeof f);
  return f;
}

template <typename Vec, typename In>
float block_max(const In* z, int64_t n) {
  using F = typename Vec::F;
  const F neg_inf = Vec::set1(-INFINITY);
  F m0 = neg_inf, m1 = neg_inf, m2 = neg_inf, m3 = neg_inf;
  constexpr int W = Vec::kWidth;
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    m0 = Vec::max(m0, Vec::load(z + i));
    m1 = Vec::max(m1, Vec::load(z + i + W));
    m2 = Vec::max(m2, Vec::load(z + i + 2 * W));
    m3 = Vec::max(m3, Vec::load(z + i + 3 * W));
  }
  for (; i + W <= n; i += W) m0 = Vec::max(m0, Vec::load(z + i));
  if (i < n) m1 = Vec::max(m1, Vec::load(z + i, Vec::tail(n - i), neg_inf));
  return Vec::reduce_max(Vec::max(Vec::max(m0, m1), Vec::max(m2, m3)));
}

// Elements ahead of the exp pass whose cache lines are prefetched (four blocks: measured
// ~2.5x faster than none on [2048, 32768], about even with two to sixteen).
constexpr int64_t kPrefetchAhead = 4 * kLogprobsBlock;

template <typename Vec, typename In, bool Entropy>
void forward_row(const TokenLogprobsForwardArgs& a, int64_t r) {
  using F = typename Vec::F;
  constexpr int W = Vec::kWidth;
  const In* z = static_cast<const In*>(a.logits) + r * a.V;
  const float scale = a.inv_temperature * kLog2e;
  const F vscale = Vec::set1(scale), floor = Vec::set1(kExp2Floor);  // floor keeps e * t finite at -inf
  F s0 = Vec::zero(), s1 = Vec::zero();
  F et0 = Vec::zero(), et1 = Vec::zero();  // sum of e * t, t in log2 units
  float max_logit = -INFINITY;
  for (int64_t b = 0; b < a.V; b += kLogprobsBlock) {
    const int64_t n = a.V - b < kLogprobsBlock ? a.V - b : kLogprobsBlock;
    const In* zb = z + b;
    const float bm = block_max<Vec>(zb, n);
    if (bm > max_logit) {
      if (max_logit != -INFINITY) {
        // Old terms were e * 2^0 relative to the old max; relative to the new one they are e * 2^delta
        // and their t shifts by delta.
        const float delta = (max_logit - bm) * scale;
        const F rescale = Vec::set1(exp2f(delta)), vdelta = Vec::set1(delta);
        if (Entropy) {
          et0 = Vec::mul(rescale, Vec::fmadd(vdelta, s0, et0));
          et1 = Vec::mul(rescale, Vec::fmadd(vdelta, s1, et1));
        }
        s0 = Vec::mul(s0, rescale);
        s1 = Vec::mul(s1, rescale);
      }
      max_logit = bm;
    }
    if (max_logit == -INFINITY) continue;  // every logit so far is -inf: nothing to add
    const F bias = Vec::set1(-max_logit * scale);
    int64_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
      // The max pass of a coming block reads memory; fetch it while this block computes, so
      // memory and arithmetic overlap instead of alternating (rows of one task are contiguous).
      for (int64_t byte = 0; byte < static_cast<int64_t>(2 * W * sizeof(In)); byte += 64)
        Vec::prefetch(reinterpret_cast<const char*>(zb + i + kPrefetchAhead) + byte);
      const F t0 = Vec::fmadd(Vec::load(zb + i), vscale, bias);
      const F t1 = Vec::fmadd(Vec::load(zb + i + W), vscale, bias);
      const F e0 = Vec::exp2(t0), e1 = Vec::exp2(t1);
      s0 = Vec::add(s0, e0);
      s1 = Vec::add(s1, e1);
      if (Entropy) {
        et0 = Vec::fmadd(e0, Vec::max(floor, t0), et0);
        et1 = Vec::fmadd(e1, Vec::max(floor, t1), et1);
      }
    }
    for (; i < n; i += W) {
      const auto m = Vec::tail(n - i);
      const F t = Vec::fmadd(Vec::load(zb + i, m, Vec::zero()), vscale, bias);
      const F e = Vec::keep(m, Vec::exp2(t));
      s0 = Vec::add(s0, e);
      if (Entropy) et0 = Vec::fmadd(e, Vec::max(floor, t), et0);
    }
  }
  const float sum = Vec::reduce_add(Vec::add(s0, s1));
  const float logz = max_logit * a.inv_temperature + logf(sum);
  a.logz[r] = logz;
  a.logprobs[r] = scalar_logit(z + a.targets[r]) * a.inv_temperature - logz;
  if (Entropy) a.entropy[r] = clamp_entropy(logf(sum) - kLn2 * Vec::reduce_add(Vec::add(et0, et1)) / sum);
}

// H = -ln2 * sum_v p_v t_v, for a caller that wants dentropy but kept no entropy.
template <typename Vec, typename In>
float row_entropy(const In* z, int64_t V, typename Vec::F vscale, typename Vec::F bias) {
  using F = typename Vec::F;
  const F floor = Vec::set1(kExp2Floor);
  F acc = Vec::zero();
  for (int64_t i = 0; i < V; i += Vec::kWidth) {
    const auto m = Vec::tail(V - i);
    const F t = Vec::fmadd(Vec::load(z + i, m, Vec::zero()), vscale, bias);
    acc = Vec::fmadd(Vec::keep(m, Vec::exp2(t)), Vec::max(floor, t), acc);
  }
  return clamp_entropy(-kLn2 * Vec::reduce_add(acc));
}

// dz[i] = p_i * (c0 + c1 * t_i) over [begin, end); with Stream, dz + begin is vector-aligned.
template <typename Vec, typename In, bool Stream, bool Entropy>
void gradient_span(float* dz, const In* z, int64_t begin, int64_t end, typename Vec::F vscale,
                   typename Vec::F bias, typename Vec::F c0, typename Vec::F c1) {
  using F = typename Vec::F;
  constexpr int W = Vec::kWidth;
  const F floor = Vec::set1(kExp2Floor);
  int64_t i = begin;
  for (; i + 2 * W <= end; i += 2 * W) {
    const F t0 = Vec::fmadd(Vec::load(z + i), vscale, bias);
    const F t1 = Vec::fmadd(Vec::load(z + i + W), vscale, bias);
    const F d0 = Vec::mul(Vec::exp2(t0), Entropy ? Vec::fmadd(c1, Vec::max(floor, t0), c0) : c0);
    const F d1 = Vec::mul(Vec::exp2(t1), Entropy ? Vec::fmadd(c1, Vec::max(floor, t1), c0) : c0);
    if (Stream) {
      Vec::stream(dz + i, d0);
      Vec::stream(dz + i + W, d1);
    } else {
      Vec::store(dz + i, d0);
      Vec::store(dz + i + W, d1);
    }
  }
  for (; i < end; i += W) {
    const auto m = Vec::tail(end - i);
    const F t = Vec::fmadd(Vec::load(z + i, m, Vec::zero()), vscale, bias);
    const F d = Vec::mul(Vec::exp2(t), Entropy ? Vec::fmadd(c1, Vec::max(floor, t), c0) : c0);
    if (Stream && m == Vec::kFull) Vec::stream(dz + i, d);
    else Vec::store(dz + i, m, d);
  }
}

// Elements before dz reaches a vector boundary, for streaming stores (dz is 4-byte aligned).
template <typename Vec>
int64_t head_to_alignment(const float* dz, int64_t V) {
  constexpr uintptr_t bytes = Vec::kWidth * sizeof(float);
  const int64_t head = static_cast<int64_t>((bytes - (reinterpret_cast<uintptr_t>(dz) & (bytes - 1))) & (bytes - 1)) / 4;
  return head < V ? head : V;
}

template <typename Vec>
void zero_row(float* dz, int64_t V, bool stream) {
  const typename Vec::F zero = Vec::zero();
  const int64_t head = stream ? head_to_alignment<Vec>(dz, V) : 0;
  for (int64_t i = 0; i < head; ++i) dz[i] = 0.0f;
  int64_t i = head;
  for (; i + Vec::kWidth <= V; i += Vec::kWidth) {
    if (stream) Vec::stream(dz + i, zero);
    else Vec::store(dz + i, zero);
  }
  for (; i < V; ++i) dz[i] = 0.0f;
}

template <typename Vec, typename In, bool Entropy>
void backward_row(const TokenLogprobsBackwardArgs& a, int64_t r, float g, float gh) {
  using F = typename Vec::F;
  const In* z = static_cast<const In*>(a.logits) + r * a.V;
  float* dz = a.dlogits + r * a.V;
  const F vscale = Vec::set1(a.inv_temperature * kLog2e);
  const F bias = Vec::set1(-a.logz[r] * kLog2e);
  float h = 0.0f;
  if (Entropy) h = a.entropy != nullptr ? a.entropy[r] : row_entropy<Vec>(z, a.V, vscale, bias);
  const F c0 = Vec::set1(-a.inv_temperature * (g + gh * h));
  const F c1 = Vec::set1(-a.inv_temperature * gh * kLn2);
  if (a.streaming_stores) {
    const int64_t head = head_to_alignment<Vec>(dz, a.V);
    gradient_span<Vec, In, false, Entropy>(dz, z, 0, head, vscale, bias, c0, c1);
    gradient_span<Vec, In, true, Entropy>(dz, z, head, a.V, vscale, bias, c0, c1);
  } else {
    gradient_span<Vec, In, false, Entropy>(dz, z, 0, a.V, vscale, bias, c0, c1);
  }
}

template <typename Vec, typename In>
void forward_rows(const TokenLogprobsForwardArgs& a, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    if (a.entropy != nullptr) forward_row<Vec, In, true>(a, r);
    else forward_row<Vec, In, false>(a, r);
  }
}

template <typename Vec, typename In>
void backward_rows(const TokenLogprobsBackwardArgs& a, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float g = a.dlogprobs[r];
    const float gh = a.dentropy != nullptr ? a.dentropy[r] : 0.0f;
    if (g == 0.0f && gh == 0.0f) zero_row<Vec>(a.dlogits + r * a.V, a.V, a.streaming_stores != 0);
    else if (gh != 0.0f) backward_row<Vec, In, true>(a, r, g, gh);
    else backward_row<Vec, In, false>(a, r, g, gh);
  }
  // Streaming stores are weakly ordered: fence before the one-hot term reads them back.
  if (a.streaming_stores) Vec::fence();
  for (int64_t r = begin; r < end; ++r) a.dlogits[r * a.V + a.targets[r]] += a.inv_temperature * a.dlogprobs[r];
}

}  // namespace token_logprobs_simd
}  // namespace

void STEPRL_SIMD_ENTRY(token_logprobs_forward_rows)(const TokenLogprobsForwardArgs& a, int64_t begin, int64_t end) {
  if (a.logits_bf16) token_logprobs_simd::forward_rows<Vec, uint16_t>(a, begin, end);
  else token_logprobs_simd::forward_rows<Vec, float>(a, begin, end);
}
void STEPRL_SIMD_ENTRY(token_logprobs_backward_rows)(const TokenLogprobsBackwardArgs& a, int64_t begin, int64_t end) {
  if (a.logits_bf16) token_logprobs_simd::backward_rows<Vec, uint16_t>(a, begin, end);
  else token_logprobs_simd::backward_rows<Vec, float>(a, begin, end);
}
