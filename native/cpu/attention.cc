// attention.cc: dispatch (SIMD level, threads), per-thread scratch, and the scalar implementation:
// one query at a time, online softmax over its keys in natural-log units. It is the plain
// statement of the algorithm and an independent cross-check of the blocked SIMD kernels
// (attention_simd.inl), which stack queries into tiles and run them as small GEMMs.
#include "attention.h"

#include <cmath>
#include <cstdlib>
#include <new>
#include <algorithm>

#include "parallel.h"
#include "simd.h"

namespace steprl::cpu {
namespace {

struct Scratch {
  float* data = nullptr;
  int64_t floats = 0;
  ~Scratch() { std::free(data); }
};
thread_local Scratch scratch;

inline int64_t key_start(const int32_t* kv_start, int64_t b) { return kv_start != nullptr ? kv_start[b] : 0; }

float dot(const float* x, const float* y, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

}  // namespace

float* attention_scratch(int64_t floats) {
  if (floats > scratch.floats) {
    std::free(scratch.data);
    const size_t bytes = (static_cast<size_t>(floats) * sizeof(float) + 63) / 64 * 64;
    scratch.data = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (scratch.data == nullptr) {
      scratch.floats = 0;
      throw std::bad_alloc();
    }
    scratch.floats = floats;
  }
  return scratch.data;
}

void attention_forward_task_scalar(const AttentionForwardArgs& a, int64_t task) {
  const AttentionShape& s = a.shape;
  const int64_t G = s.H / s.KVH, D = s.D, tq = attention_queries_per_block(s);
  const int64_t blocks = (s.T + tq - 1) / tq;
  const int64_t qb = task % blocks, kvh = task / blocks % s.KVH, b = task / blocks / s.KVH;
  const int64_t ks = key_start(a.kv_start, b);
  float* acc = attention_scratch(D);
  for (int64_t t = qb * tq; t < std::min(s.T, (qb + 1) * tq); ++t) {
    const int64_t position = s.S - s.T + t;
    for (int64_t h = kvh * G; h < (kvh + 1) * G; ++h) {
      const float* q = a.q + ((b * s.T + t) * s.H + h) * D;
      float m = -INFINITY, l = 0.0f;
      for (int64_t d = 0; d < D; ++d) acc[d] = 0.0f;
      for (int64_t key = ks; key <= position; ++key) {
        const float* k = a.k + ((b * s.Smax + key) * s.KVH + kvh) * D;
        const float* v = a.v + ((b * s.Smax + key) * s.KVH + kvh) * D;
        const float x = s.scale * dot(q, k, D);
        if (x > m) {  // rescale what was summed relative to the old maximum
          const float r = std::exp(m - x);
          l *= r;
          for (int64_t d = 0; d < D; ++d) acc[d] *= r;
          m = x;
        }
        const float p = std::exp(x - m);
        l += p;
        for (int64_t d = 0; d < D; ++d) acc[d] += p * v[d];
      }
      float* out = a.out + ((b * s.T + t) * s.H + h) * D;
      for (int64_t d = 0; d < D; ++d) out[d] = l > 0.0f ? acc[d] / l : 0.0f;
      a.lse[(b * s.H + h) * s.T + t] = l > 0.0f ? m + std::log(l) : -INFINITY;
    }
  }
}

void attention_backward_task_scalar(const AttentionBackwardArgs& a, int64_t task) {
  const AttentionShape& s = a.shape;
  const int64_t G = s.H / s.KVH, D = s.D;
  const int64_t kvh = task % s.KVH, b = task / s.KVH;
  const int64_t ks = key_start(a.kv_start, b);
  for (int64_t t = 0; t < s.T; ++t) {
    const int64_t position = s.S - s.T + t;
    for (int64_t h = kvh * G; h < (kvh + 1) * G; ++h) {
      const int64_t row = (b * s.T + t) * s.H + h;
      const float* q = a.q + row * D;
      const float* g = a.dout + row * D;
      float* dq = a.dq + row * D;
      const float lse = a.lse[(b * s.H + h) * s.T + t];
      if (lse == -INFINITY) continue;  // no valid key: out was 0, nothing flows back
      const float di = dot(g, a.out + row * D, D);
      for (int64_t key = ks; key <= position; ++key) {
        const int64_t kv_row = (b * s.Smax + key) * s.KVH + kvh;
        const float* k = a.k + kv_row * D;
        const float* v = a.v + kv_row * D;
        const float p = std::exp(s.scale * dot(q, k, D) - lse);
        const float ds = p * (dot(g, v, D) - di) * s.scale;
        float* dk = a.dk + kv_row * D;
        float* dv = a.dv + kv_row * D;
        for (int64_t d = 0; d < D; ++d) {
          dv[d] += p * g[d];
          dk[d] += ds * q[d];
          dq[d] += ds * k[d];
        }
      }
    }
  }
}

void attention_forward_cpu(const AttentionForwardArgs& args) {
  const AttentionShape& s = args.shape;
  if (s.B * s.T * s.H == 0) return;
  const auto task = STEPRL_SIMD_KERNEL(attention_forward_task);
  const int64_t tq = attention_queries_per_block(s);
  const int64_t tasks = s.B * s.KVH * ((s.T + tq - 1) / tq);
  parallel_for(tasks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) task(args, t);
  });
}

void attention_backward_cpu(const AttentionBackwardArgs& args) {
  const AttentionShape& s = args.shape;
  if (s.B * s.T * s.H == 0) return;
  const auto task = STEPRL_SIMD_KERNEL(attention_backward_task);
  parallel_for(s.B * s.KVH, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) task(args, t);
  });
}

}  // namespace steprl::cpu
