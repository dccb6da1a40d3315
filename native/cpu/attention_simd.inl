// attention_simd.inl: blocked attention written once over the vector type `Vec` of the including
// ISA translation unit (simd_kernels.inl).
//
// A task stacks the queries of every head that shares one kv head into columns (c = (t - t0) * G
// + g), so each key block is read once for all of them, and keeps the score block transposed:
// S^T [keys, queries]. Then all six products are one register-blocked micro-kernel over strided
// operands (C[r, :] (+)= sum_k A(r, k) B[k, :], B rows contiguous), no key packing is needed, and
// the softmax statistics of a query are vertical vector operations over key rows:
//   S^T = K Qs^T   O += P V   dP^T = V dO^T   dV += P^T dO   dK += dS^T Q   dQ += dS K
// Diagonal blocks skip the micro-tiles that the causal mask empties entirely (attention_tile.inl
// holds the micro-kernel; decoding, one query position per task, takes a GEMV path instead).
// No std templates here (see simd.h).

namespace {
namespace attention_simd {

#include "attention_tile.inl"

// What a task needs to know about its query block.
struct Block {
  int64_t b, kvh, G, D, t0, nq;
  int64_t offset;  // key position of query t is offset + t
  int64_t ks, key_end;
  int64_t ldq, ldk;  // row strides of q/out/dout and of k/v
  // First column whose query sees key s (all columns before it are masked).
  int64_t first_column(int64_t s) const { return imin(nq, imax(0, (s - offset - t0) * G)); }
  // Keys [s0, s0 + result) can reach one of columns [0, c1).
  int64_t keys_seen(int64_t s0, int64_t c1) const { return offset + t0 + (c1 - 1) / G + 1 - s0; }
  const float* row(const float* base, int64_t c, int64_t T, int64_t H) const {
    return base + ((b * T + t0 + c / G) * H + kvh * G + c % G) * D;
  }
  // Distance between the rows of consecutive columns when it is uniform (one head per kv head,
  // or a single kv head), else 0.
  int64_t column_stride() const { return G == 1 ? ldq : ldq == G * D ? D : 0; }
};

// Strided rows defeat the hardware prefetchers: request every line of the rows a block is about
// to use up front, so their misses overlap instead of stalling one by one.
void prefetch_rows(const float* first, int64_t rows, int64_t stride, int64_t D) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t d = 0; d < D; d += 16) _mm_prefetch(reinterpret_cast<const char*>(first + r * stride + d), _MM_HINT_T0);
}

void prefetch_columns(const Block& blk, const float* base, int64_t T, int64_t H) {
  for (int64_t c = 0; c < blk.nq; ++c) prefetch_rows(blk.row(base, c, T, H), 1, 0, blk.D);
}

// dst[j * ld + i] = scale * rows[i][offset + j] for a W x W block, transposed in registers.
void transpose_block(const float* const* rows, int64_t offset, float* dst, int64_t ld, float scale) {
  constexpr int W = Vec::kWidth;
  Vec::F r[W];
  const Vec::F s = Vec::set1(scale);
  for (int i = 0; i < W; ++i) r[i] = Vec::mul(Vec::load(rows[i] + offset), s);
  Vec::transpose(r);
  for (int j = 0; j < W; ++j) Vec::store(dst + j * ld, r[j]);
}

// dst[d * nq + c] = scale * (row of column c)[d]: the block's rows transposed into a B operand,
// full W x W blocks by in-register transposes (transpose_block), edges element by element.
void transpose_columns(float* dst, const Block& blk, const float* base, int64_t T, int64_t H, float scale) {
  constexpr int64_t W = Vec::kWidth;
  const int64_t nq = blk.nq, D = blk.D;
  for (int64_t c0 = 0; c0 < nq; c0 += W) {
    const int64_t n = imin(W, nq - c0);
    const float* rows[W];
    for (int64_t i = 0; i < n; ++i) rows[i] = blk.row(base, c0 + i, T, H);
    int64_t d = 0;
    if (n == W)
      for (; d + W <= D; d += W) transpose_block(rows, d, dst + d * nq + c0, nq, scale);
    for (; d < D; ++d) {
      float* out = dst + d * nq + c0;
      for (int64_t i = 0; i < n; ++i) out[i] = rows[i][d] * scale;
    }
  }
}

Block make_block(const AttentionShape& s, const int32_t* kv_start, int64_t b, int64_t kvh, int64_t t0, int64_t nt) {
  Block blk;
  blk.b = b;
  blk.kvh = kvh;
  blk.G = s.H / s.KVH;
  blk.D = s.D;
  blk.t0 = t0;
  blk.nq = nt * blk.G;
  blk.offset = s.S - s.T;
  blk.ks = kv_start != nullptr ? kv_start[b] : 0;
  blk.key_end = imin(s.S, blk.offset + t0 + nt);
  blk.ldq = s.H * s.D;
  blk.ldk = s.KVH * s.D;
  return blk;
}

// S^T [nk, nq] = K[s0:s0+nk] Qs^T, with masked entries set to -inf.
void scores(const Block& blk, const float* kblk, const float* qt, float* st, int64_t s0, int64_t nk) {
  gemm(nk, blk.nq, kblk, blk.ldk, 1, qt, blk.nq, st, blk.nq, false, [&](int64_t r0, int64_t, int64_t& k0, int64_t& k1, int64_t& j0) {
    k0 = 0;
    k1 = blk.D;
    j0 = blk.first_column(s0 + r0);
  });
  for (int64_t j = 0; j < nk; ++j)
    for (int64_t c = 0, end = blk.first_column(s0 + j); c < end; ++c) st[j * blk.nq + c] = -INFINITY;
}

// Online softmax step over one key block, vectorized across query columns: with the block's
// column maxima, m' = max(m, max_j S^T[j, c]); P^T = 2^(S^T - m') in place; l = l 2^(m - m') + sum_j P^T;
// alpha = 2^(m - m') rescales what O summed so far. A column with no valid key yet keeps m = -inf
// and uses 0 in place of m' so that nothing turns into NaN (its P^T and O stay 0).
void softmax_block(float* st, int64_t nk, int64_t nq, float* m, float* l, float* alpha) {
  using F = Vec::F;
  constexpr int64_t W = Vec::kWidth;
  const F neg_inf = Vec::set1(-INFINITY);
  for (int64_t c = 0; c < nq; c += W) {
    const Mask lanes = Vec::tail(nq - c);
    F block_max = neg_inf;
    for (int64_t j = 0; j < nk; ++j) block_max = Vec::max(block_max, Vec::load_tail(st + j * nq + c, lanes));
    const F m_old = Vec::load_tail(m + c, lanes);
    const F m_new = Vec::max(m_old, block_max);
    const F m_use = Vec::select(Vec::gt(m_new, neg_inf), m_new, Vec::zero());
    const F scale = Vec::exp2(Vec::sub(m_old, m_use));
    F sum = Vec::zero();
    for (int64_t j = 0; j < nk; ++j) {
      float* p = st + j * nq + c;
      const F e = Vec::exp2(Vec::sub(Vec::load_tail(p, lanes), m_use));
      Vec::store(p, lanes, e);
      sum = Vec::add(sum, e);
    }
    Vec::store(m + c, lanes, m_new);
    Vec::store(l + c, lanes, Vec::fmadd(Vec::load_tail(l + c, lanes), scale, sum));
    Vec::store(alpha + c, lanes, scale);
  }
}

void scale_rows(float* x, int64_t rows, int64_t D, const float* factor) {
  constexpr int64_t W = Vec::kWidth;
  for (int64_t r = 0; r < rows; ++r) {
    if (factor[r] == 1.0f) continue;
    const Vec::F f = Vec::set1(factor[r]);
    for (int64_t d = 0; d < D; d += W) {
      const Mask lanes = Vec::tail(D - d);
      Vec::store(x + r * D + d, lanes, Vec::mul(Vec::load_tail(x + r * D + d, lanes), f));
    }
  }
}

float dot(const float* x, const float* y, int64_t D) {
  constexpr int64_t W = Vec::kWidth;
  Vec::F acc = Vec::zero();
  for (int64_t d = 0; d < D; d += W) {
    const Mask lanes = Vec::tail(D - d);
    acc = Vec::fmadd(Vec::load_tail(x + d, lanes), Vec::load_tail(y + d, lanes), acc);
  }
  return Vec::reduce_add(acc);
}

// One query position (decoding): the G heads of the kv head each read the cache as a GEMV, with
// keys along memory (dot products, then a contiguous softmax row, then p-weighted rows of V), so
// K and V stream through once per task and no vector lane idles.
void decode_task(const AttentionForwardArgs& a, const Block& blk) {
  const AttentionShape& s = a.shape;
  using F = Vec::F;
  constexpr int64_t W = Vec::kWidth;
  const int64_t D = blk.D, G = blk.G, n = imax(0, blk.key_end - blk.ks);
  float* qs = attention_scratch(G * D + G * n + D);
  float* scores = qs + G * D;  // [G, n]
  float* acc = scores + G * n;
  const float qscale = s.scale * kLog2e;
  for (int64_t c = 0; c < G; ++c) {
    const float* q = blk.row(a.q, c, s.T, s.H);
    for (int64_t d = 0; d < D; ++d) qs[c * D + d] = q[d] * qscale;
  }
  const float* k0 = a.k + ((blk.b * s.Smax + blk.ks) * s.KVH + blk.kvh) * D;
  const float* v0 = a.v + ((blk.b * s.Smax + blk.ks) * s.KVH + blk.kvh) * D;
  for (int64_t j = 0; j < n; ++j) {
    if (j + 8 < n) prefetch_rows(k0 + (j + 8) * blk.ldk, 1, 0, D);
    for (int64_t c = 0; c < G; ++c) scores[c * n + j] = dot(qs + c * D, k0 + j * blk.ldk, D);
  }
  for (int64_t c = 0; c < G; ++c) {
    float* row = scores + c * n;
    F vmax = Vec::set1(-INFINITY);
    for (int64_t j = 0; j < n; j += W) vmax = Vec::max(vmax, Vec::load(row + j, Vec::tail(n - j), Vec::set1(-INFINITY)));
    const float m = Vec::reduce_max(vmax);
    F sum = Vec::zero();
    for (int64_t j = 0; j < n; j += W) {
      const Mask lanes = Vec::tail(n - j);
      const F e = Vec::exp2(Vec::sub(Vec::load_tail(row + j, lanes), Vec::set1(m)));
      Vec::store(row + j, lanes, e);
      sum = Vec::add(sum, Vec::keep(lanes, e));
    }
    const float l = Vec::reduce_add(sum);
    for (int64_t d = 0; d < D; ++d) acc[d] = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      if (c == 0 && j + 8 < n) prefetch_rows(v0 + (j + 8) * blk.ldk, 1, 0, D);
      const F p = Vec::set1(row[j]);
      const float* v = v0 + j * blk.ldk;
      for (int64_t d = 0; d < D; d += W) {
        const Mask lanes = Vec::tail(D - d);
        Vec::store(acc + d, lanes, Vec::fmadd(p, Vec::load_tail(v + d, lanes), Vec::load_tail(acc + d, lanes)));
      }
    }
    const int64_t h = blk.kvh * G + c;
    float* out = a.out + ((blk.b * s.T + blk.t0) * s.H + h) * D;
    const float inv = n > 0 ? 1.0f / l : 0.0f;
    for (int64_t d = 0; d < D; ++d) out[d] = acc[d] * inv;
    a.lse[(blk.b * s.H + h) * s.T + blk.t0] = n > 0 ? (m + log2f(l)) * kLn2 : -INFINITY;
  }
}

void forward_task(const AttentionForwardArgs& a, int64_t task) {
  const AttentionShape& s = a.shape;
  const int64_t tq = attention_queries_per_block(s), blocks = (s.T + tq - 1) / tq;
  const int64_t qb = task % blocks, kvh = task / blocks % s.KVH, b = task / blocks / s.KVH;
  const Block blk = make_block(s, a.kv_start, b, kvh, qb * tq, imin(tq, s.T - qb * tq));
  if (blk.nq == blk.G) return decode_task(a, blk);  // a single query position
  const int64_t D = blk.D, nq = blk.nq;
  float* qt = attention_scratch(2 * D * nq + kAttentionKeys * nq + 3 * nq);  // Qs^T [D, nq]
  float* o = qt + D * nq;                                                       // O [nq, D]
  float* st = o + nq * D;                                                       // S^T, P^T [keys, nq]
  float* m = st + kAttentionKeys * nq;
  float* l = m + nq;
  float* alpha = l + nq;
  const float qscale = s.scale * kLog2e;  // scores in log2 units: exp2 instead of exp
  prefetch_columns(blk, a.q, s.T, s.H);
  transpose_columns(qt, blk, a.q, s.T, s.H, qscale);
  for (int64_t c = 0; c < nq; ++c) {
    for (int64_t d = 0; d < D; ++d) o[c * D + d] = 0.0f;
    m[c] = -INFINITY;
    l[c] = 0.0f;
  }
  for (int64_t s0 = blk.ks; s0 < blk.key_end; s0 += kAttentionKeys) {
    const int64_t nk = imin(kAttentionKeys, blk.key_end - s0);
    const float* kblk = a.k + ((b * s.Smax + s0) * s.KVH + kvh) * D;
    const float* vblk = a.v + ((b * s.Smax + s0) * s.KVH + kvh) * D;
    if (s0 == blk.ks) prefetch_rows(kblk, nk, blk.ldk, D);
    prefetch_rows(vblk, nk, blk.ldk, D);
    const int64_t next = imin(kAttentionKeys, blk.key_end - s0 - nk);  // keys of the next block
    prefetch_rows(kblk + nk * blk.ldk, next, blk.ldk, D);
    scores(blk, kblk, qt, st, s0, nk);
    softmax_block(st, nk, nq, m, l, alpha);
    scale_rows(o, nq, D, alpha);
    // O[c, :] += sum_j P^T[j, c] V[j, :], keys past the group's last query skipped.
    gemm(nq, D, st, 1, nq, vblk, blk.ldk, o, D, true, [&](int64_t, int64_t r1, int64_t& k0, int64_t& k1, int64_t& j0) {
      k0 = 0;
      k1 = imin(nk, blk.keys_seen(s0, r1));
      j0 = 0;
    });
  }
  for (int64_t c = 0; c < nq; ++c) {
    const int64_t t = blk.t0 + c / blk.G, h = kvh * blk.G + c % blk.G;
    float* out = a.out + ((b * s.T + t) * s.H + h) * D;
    const float inv = l[c] > 0.0f ? 1.0f / l[c] : 0.0f;
    for (int64_t d = 0; d < D; ++d) out[d] = o[c * D + d] * inv;
    a.lse[(b * s.H + h) * s.T + t] = l[c] > 0.0f ? (m[c] + log2f(l[c])) * kLn2 : -INFINITY;
  }
}

// P^T = 2^(S^T - lse2) and, in place of dP^T, dS^T = scale P^T (dP^T - Di) (entries masked in S^T
// have P = 0; their dP^T was never computed, so it is zeroed first).
void probabilities_and_dscores(const Block& blk, float* st, float* dpt, int64_t s0, int64_t nk, const float* lse2,
                               const float* di, float scale) {
  using F = Vec::F;
  constexpr int64_t W = Vec::kWidth;
  const int64_t nq = blk.nq;
  const F vscale = Vec::set1(scale);
  for (int64_t j = 0; j < nk; ++j) {
    for (int64_t c = 0, end = blk.first_column(s0 + j); c < end; ++c) dpt[j * nq + c] = 0.0f;
    for (int64_t c = 0; c < nq; c += W) {
      const Mask lanes = Vec::tail(nq - c);
      const F p = Vec::exp2(Vec::sub(Vec::load_tail(st + j * nq + c, lanes), Vec::load_tail(lse2 + c, lanes)));
      const F dp = Vec::sub(Vec::load_tail(dpt + j * nq + c, lanes), Vec::load_tail(di + c, lanes));
      Vec::store(st + j * nq + c, lanes, p);
      Vec::store(dpt + j * nq + c, lanes, Vec::mul(Vec::mul(p, dp), vscale));
    }
  }
}

void backward_task(const AttentionBackwardArgs& a, int64_t task) {
  const AttentionShape& s = a.shape;
  const int64_t kvh = task % s.KVH, b = task / s.KVH, tq = attention_queries_per_block(s);
  const int64_t G = s.H / s.KVH, D = s.D, nq_max = tq * G;
  float* qt = attention_scratch(5 * D * nq_max + 2 * kAttentionKeys * nq_max + 2 * nq_max);  // Qs^T [D, nq]
  float* dot = qt + D * nq_max;      // dO^T [D, nq]
  float* qr = dot + D * nq_max;      // Q rows [nq, D]
  float* dor = qr + D * nq_max;      // dO rows [nq, D]
  float* dqa = dor + D * nq_max;     // dQ of the block [nq, D]
  float* st = dqa + D * nq_max;      // S^T, then P^T [keys, nq]
  float* dpt = st + kAttentionKeys * nq_max;  // dP^T, then dS^T
  float* lse2 = dpt + kAttentionKeys * nq_max;
  float* di = lse2 + nq_max;
  const float qscale = s.scale * kLog2e;
  for (int64_t t0 = 0; t0 < s.T; t0 += tq) {
    const Block blk = make_block(s, a.kv_start, b, kvh, t0, imin(tq, s.T - t0));
    const int64_t nq = blk.nq;
    prefetch_columns(blk, a.q, s.T, s.H);
    prefetch_columns(blk, a.dout, s.T, s.H);
    prefetch_columns(blk, a.out, s.T, s.H);
    // Q and dO rows as B operands: in place when their stride is uniform, else gathered.
    const int64_t stride = blk.column_stride();
    const float* q_rows = stride != 0 ? blk.row(a.q, 0, s.T, s.H) : qr;
    const float* dout_rows = stride != 0 ? blk.row(a.dout, 0, s.T, s.H) : dor;
    const int64_t ld_rows = stride != 0 ? stride : D;
    transpose_columns(qt, blk, a.q, s.T, s.H, qscale);
    transpose_columns(dot, blk, a.dout, s.T, s.H, 1.0f);
    for (int64_t c = 0; c < nq; ++c) {
      const float* q = blk.row(a.q, c, s.T, s.H);
      const float* g = blk.row(a.dout, c, s.T, s.H);
      const float* o = blk.row(a.out, c, s.T, s.H);
      float sum = 0.0f;
      for (int64_t d = 0; d < D; ++d) {
        dqa[c * D + d] = 0.0f;
        sum += g[d] * o[d];
      }
      if (stride == 0)
        for (int64_t d = 0; d < D; ++d) {
          qr[c * D + d] = q[d];
          dor[c * D + d] = g[d];
        }
      di[c] = sum;
      const float lse = a.lse[(b * s.H + kvh * G + c % G) * s.T + t0 + c / G];
      lse2[c] = lse == -INFINITY ? INFINITY : lse * kLog2e;  // +inf: P = 0 for a row without keys
    }
    for (int64_t s0 = blk.ks; s0 < blk.key_end; s0 += kAttentionKeys) {
      const int64_t nk = imin(kAttentionKeys, blk.key_end - s0);
      const int64_t kv = ((b * s.Smax + s0) * s.KVH + kvh) * D;
      if (t0 == 0) {  // first visit of these keys: bring them (and their gradients) in
        prefetch_rows(a.k + kv, nk, blk.ldk, D);
        prefetch_rows(a.v + kv, nk, blk.ldk, D);
        prefetch_rows(a.dk + kv, nk, blk.ldk, D);
        prefetch_rows(a.dv + kv, nk, blk.ldk, D);
      }
      scores(blk, a.k + kv, qt, st, s0, nk);
      gemm(nk, nq, a.v + kv, blk.ldk, 1, dot, nq, dpt, nq, false, [&](int64_t r0, int64_t, int64_t& k0, int64_t& k1, int64_t& j0) {
        k0 = 0;
        k1 = D;
        j0 = blk.first_column(s0 + r0);
      });
      probabilities_and_dscores(blk, st, dpt, s0, nk, lse2, di, s.scale);
      // Key rows [r0, r1) only see columns from first_column(s0 + r0) on.
      auto from_first_column = [&](int64_t r0, int64_t, int64_t& k0, int64_t& k1, int64_t& j0) {
        k0 = blk.first_column(s0 + r0);
        k1 = nq;
        j0 = 0;
      };
      gemm(nk, D, st, nq, 1, dout_rows, ld_rows, a.dv + kv, blk.ldk, true, from_first_column);
      gemm(nk, D, dpt, nq, 1, q_rows, ld_rows, a.dk + kv, blk.ldk, true, from_first_column);
      gemm(nq, D, dpt, 1, nq, a.k + kv, blk.ldk, dqa, D, true, [&](int64_t, int64_t r1, int64_t& k0, int64_t& k1, int64_t& j0) {
        k0 = 0;
        k1 = imin(nk, blk.keys_seen(s0, r1));
        j0 = 0;
      });
    }
    for (int64_t c = 0; c < nq; ++c) {
      float* dq = a.dq + ((b * s.T + t0 + c / G) * s.H + kvh * G + c % G) * D;
      for (int64_t d = 0; d < D; ++d) dq[d] += dqa[c * D + d];
    }
  }
}

}  // namespace attention_simd
}  // namespace

void STEPRL_SIMD_ENTRY(attention_forward_task)(const AttentionForwardArgs& a, int64_t task) {
  attention_simd::forward_task(a, task);
}
void STEPRL_SIMD_ENTRY(attention_backward_task)(const AttentionBackwardArgs& a, int64_t task) {
  attention_simd::backward_task(a, task);
}
