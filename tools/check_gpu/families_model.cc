// families_model.cc: the model kernel families of check_gpu: matmul (forward, dinp, dweight, dbias:
// the three GEMM layouts), attention (training forward/backward and KV-cache decode), rmsnorm and
// swiglu (with their fused bf16-output forwards), rope, embedding, adamw (+ grad norm), sampling,
// token_logprobs and linear_logprobs.
// Each check calls the CPU kernel (native/cpu) and the CUDA launcher (cuda/) on the same inputs.
// "realistic" shapes are Qwen2.5-0.5B's: d = 896, 14 query / 2 KV heads of 64, FFN 4864,
// V = 151936; "sanitize" shapes are the issue's compute-sanitizer cases.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "adamw.h"
#include "attention.h"
#include "check.h"
#include "embedding.h"
#include "flash_attention.h"
#include "gemm_bf16.h"
#include "linear_logprobs.h"
#include "matmul.h"
#include "native/cpu/adamw.h"
#include "native/cpu/attention.h"
#include "native/cpu/embedding.h"
#include "native/cpu/linear_logprobs.h"
#include "native/cpu/matmul_bias.h"
#include "native/cpu/rmsnorm.h"
#include "native/cpu/rope.h"
#include "native/cpu/sampling.h"
#include "native/cpu/swiglu.h"
#include "native/cpu/token_logprobs.h"
#include "rmsnorm.h"
#include "rope.h"
#include "sampling.h"
#include "swiglu.h"
#include "token_logprobs.h"

namespace steprl::check {
namespace {

using std::vector;
constexpr double kLog2e = 1.4426950408889634;

// ---- matmul: forward out = inp W^T + bias + residual (K-major x K-major), backward dinp += dout W
// (K-major x N-major), dweight += dout^T inp (M-major x N-major), dbias += column sums; fp32 and
// bf16 (tensor cores) --------

struct MatmulCase {
  int64_t N, C, OC;
  const char* cls;
  bool bias, residual;
};

// The bf16 tensor-core GEMM (cuda/gemm_bf16.cu) in its three products: forward (K-major x
// K-major, + bias + residual), dinp (K-major x N-major) and dweight (M-major x N-major), + dbias,
// against the CPU fp32 kernels on the bf16-rounded inputs. A bf16 x bf16 product is exact in fp32,
// so only the fp32 summation order differs: the fp32 GEMM's tolerance. Shapes cover the 16-byte
// cp.async path (C, OC multiples of 8) and the element-wise one (odd C or OC), K tails (K % 32,
// K % 16 != 0), M and N tails of the 64x64 tiles, and the 128x128 tiles (>= 132 of them).
void check_matmul_bf16(Ctx& c) {
  const MatmulCase cases[] = {
      {1, 1, 1, "tiny", false, false},      {3, 8, 16, "tiny", true, true},
      {33, 67, 129, "odd", true, true},     {65, 136, 40, "odd", false, true},  // 16-byte path, tails in every dim
      {70, 24, 100, "odd", true, true},     // K < one 32-slab; OC % 8 = 4: dout rows take the element-wise path
      {1024, 896, 1152, "realistic", true, false}, {1024, 4864, 896, "realistic", false, true},
      {33, 67, 129, "sanitize", true, true}, {65, 136, 40, "sanitize", true, true},
      {1040, 40, 1928, "sanitize", true, true},  // forward on 9 x 16 = 144 128x128 tiles with tails (dinp, dweight: 64x64)
  };
  int seed = 101;
  auto round = [](const vector<float>& x, vector<uint16_t>& bits) {
    vector<float> values(x.size());
    bits.resize(x.size());
    for (size_t i = 0; i < x.size(); ++i) values[i] = bf16_value(bits[i] = bf16_bits(x[i]));
    return values;
  };
  for (const auto& k : cases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"N", k.N}, {"C", k.C}, {"OC", k.OC}}) + (k.bias ? " +bias" : "") + (k.residual ? " +res" : "") + " bf16";
    vector<uint16_t> inp_b, w_b, dout_b;
    const auto inp = round(uniform(rng, k.N * k.C, -1, 1), inp_b), w = round(uniform(rng, k.OC * k.C, -1, 1), w_b);
    const auto bias = uniform(rng, k.OC, -1, 1), res = uniform(rng, k.N * k.OC, -1, 1);
    auto d_inp = up(inp_b); auto d_w = up(w_b); auto d_bias = up(bias); auto d_res = up(res);
    {
      Row& row = c.begin("forward bf16", shape, k.cls);
      vector<float> out(k.N * k.OC);
      cpu::matmul_forward_cpu(out.data(), inp.data(), w.data(), k.bias ? bias.data() : nullptr,
                              k.residual ? res.data() : nullptr, k.N, k.C, k.OC);
      auto d_out = dev_zeros<float>(k.N * k.OC);
      const cuda::MatmulBf16ForwardArgs a{d_out.p(), d_inp.p(), d_w.p(), k.bias ? d_bias.p() : nullptr,
                                          k.residual ? d_res.p() : nullptr, k.N, k.C, k.OC};
      cuda::matmul_bf16_forward_cuda(a);
      c.compare(row, "out", d_out.get(), out, {1e-4, 1e-5 * std::sqrt(double(k.C))});
      c.time(row, [&] { cuda::matmul_bf16_forward_cuda(a); }, 2.0 * k.N * k.C * k.OC, 0, Peak::tensor_bf16);
    }
    {
      Row& row = c.begin("backward bf16 dinp+dweight+dbias", shape, k.cls);
      const auto dout = round(uniform(rng, k.N * k.OC, -1, 1), dout_b);
      auto dinp = uniform(rng, k.N * k.C, -1, 1), dw = uniform(rng, k.OC * k.C, -1, 1), db = uniform(rng, k.OC, -1, 1);
      auto d_dout = up(dout_b); auto d_dinp = up(dinp); auto d_dw = up(dw); auto d_db = up(db);
      cpu::matmul_backward_cpu(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), k.N, k.C, k.OC);
      const cuda::MatmulBf16BackwardArgs a{d_dinp.p(), d_dw.p(), d_db.p(), d_dout.p(), d_inp.p(), d_w.p(), k.N, k.C, k.OC};
      cuda::matmul_bf16_backward_cuda(a);
      c.compare(row, "dinp", d_dinp.get(), dinp, {1e-4, 1e-5 * std::sqrt(double(k.OC))});
      c.compare(row, "dweight", d_dw.get(), dw, {1e-4, 1e-5 * std::sqrt(double(k.N))});
      c.compare(row, "dbias", d_db.get(), db, {1e-4, 1e-5 * std::sqrt(double(k.N))});
      c.time(row, [&] { cuda::matmul_bf16_backward_cuda(a); }, 4.0 * k.N * k.C * k.OC, 0, Peak::tensor_bf16);
    }
    c.end_case();
  }
}

void check_matmul(Ctx& c) {
  const MatmulCase cases[] = {
      {1, 1, 1, "tiny", false, false},       {3, 5, 7, "tiny", true, true},
      {33, 67, 129, "odd", true, true},      {65, 130, 33, "odd", false, true},  // C, OC % 4 != 0: scalar loads
      {127, 128, 256, "odd", true, false},   {300, 260, 700, "odd", true, false},
      {1024, 896, 1152, "realistic", true, false},   // q|k|v projection (with bias, as Qwen2)
      {1024, 896, 9728, "realistic", false, false},  // gate|up
      {1024, 4864, 896, "realistic", false, true},   // down + residual
      {33, 67, 129, "sanitize", true, true},  {1040, 72, 2320, "sanitize", true, true},  // 128x128 tiles with tails
  };
  int seed = 1;
  for (const auto& k : cases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"N", k.N}, {"C", k.C}, {"OC", k.OC}}) + (k.bias ? " +bias" : "") + (k.residual ? " +res" : "");
    const auto inp = uniform(rng, k.N * k.C, -1, 1), w = uniform(rng, k.OC * k.C, -1, 1);
    const auto bias = uniform(rng, k.OC, -1, 1), res = uniform(rng, k.N * k.OC, -1, 1);
    auto d_inp = up(inp); auto d_w = up(w); auto d_bias = up(bias); auto d_res = up(res);
    const Tol tol{1e-4, 1e-5 * std::sqrt(double(k.C))};
    {
      Row& row = c.begin("forward", shape, k.cls);
      vector<float> out(k.N * k.OC);
      cpu::matmul_forward_cpu(out.data(), inp.data(), w.data(), k.bias ? bias.data() : nullptr,
                              k.residual ? res.data() : nullptr, k.N, k.C, k.OC);
      auto d_out = dev_zeros<float>(k.N * k.OC);
      const MatmulForwardArgs a{d_out.p(), d_inp.p(), d_w.p(), k.bias ? d_bias.p() : nullptr,
                                      k.residual ? d_res.p() : nullptr, k.N, k.C, k.OC};
      cuda::matmul_forward_cuda(a);
      c.compare(row, "out", d_out.get(), out, tol);
      c.time(row, [&] { cuda::matmul_forward_cuda(a); }, 2.0 * k.N * k.C * k.OC, 0, Peak::fp32_fma);
    }
    {
      Row& row = c.begin("backward dinp+dweight+dbias", shape, k.cls);
      const auto dout = uniform(rng, k.N * k.OC, -1, 1);
      auto dinp = uniform(rng, k.N * k.C, -1, 1), dw = uniform(rng, k.OC * k.C, -1, 1), db = uniform(rng, k.OC, -1, 1);
      auto d_dout = up(dout); auto d_dinp = up(dinp); auto d_dw = up(dw); auto d_db = up(db);
      cpu::matmul_backward_cpu(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), k.N, k.C, k.OC);
      const MatmulBackwardArgs a{d_dinp.p(), d_dw.p(), d_db.p(), d_dout.p(), d_inp.p(), d_w.p(), k.N, k.C, k.OC};
      cuda::matmul_backward_cuda(a);
      c.compare(row, "dinp", d_dinp.get(), dinp, {1e-4, 1e-5 * std::sqrt(double(k.OC))});
      c.compare(row, "dweight", d_dw.get(), dw, {1e-4, 1e-5 * std::sqrt(double(k.N))});
      c.compare(row, "dbias", d_db.get(), db, {1e-4, 1e-5 * std::sqrt(double(k.N))});
      c.time(row, [&] { cuda::matmul_backward_cuda(a); }, 4.0 * k.N * k.C * k.OC, 0, Peak::fp32_fma);
    }
    c.end_case();
  }
  check_matmul_bf16(c);
}

// ---- attention ------------------------------------------------------------------------------

struct AttentionCase {
  int64_t B, T, S, Smax, H, KVH, D;
  bool kv_start;
  const char* cls;
  const char* what;
};

// bf16 q, k, v, dout (cuda/flash_attention.cu: tensor cores for D % 8 == 0, D <= 128, else the fp32
// kernels on widened copies) against the CPU kernel on the bf16-rounded values. FA2 rounds P (and
// in the backward dS) to bf16 before their products: |out error| <= 2^-8 sum_s p_s |v_s| <=
// 2^-8 max|v| (v in [-1, 1]: atol 4e-3); the gradients' rounding is bounded the same way relative
// to their largest terms (8e-3 of the largest reference magnitude). lse is fp32 throughout.
void check_attention_bf16(Ctx& c, const AttentionCase& k, const AttentionShape& sh, const vector<float>& q,
                          const vector<float>& kk, const vector<float>& v, const vector<int32_t>& start, double pairs, Rng& rng) {
  const int64_t qn = k.B * k.T * k.H * k.D, kn = k.B * k.Smax * k.KVH * k.D, ln = k.B * k.H * k.T;
  const std::string shape = shape_str({{"B", k.B}, {"T", k.T}, {"S", k.S}, {"H", k.H}, {"KVH", k.KVH}, {"D", k.D}}) +
                            (k.kv_start ? " +kvStart" : "") + " bf16";
  auto round = [](const vector<float>& x, vector<uint16_t>& bits, vector<float>& values) {
    bits.resize(x.size());
    values.resize(x.size());
    for (size_t i = 0; i < x.size(); ++i) values[i] = bf16_value(bits[i] = bf16_bits(x[i]));
  };
  vector<uint16_t> qb, kb, vb;
  vector<float> qr, kr, vr;
  round(q, qb, qr);
  round(kk, kb, kr);
  round(v, vb, vr);
  const int32_t* hstart = k.kv_start ? start.data() : nullptr;
  vector<float> out(qn), lse(ln);
  cpu::attention_forward_cpu({out.data(), lse.data(), qr.data(), kr.data(), vr.data(), hstart, sh});
  auto d_q = up(qb); auto d_k = up(kb); auto d_v = up(vb); auto d_start = up(start);
  const int32_t* gstart = k.kv_start ? d_start.p() : nullptr;
  auto d_out = dev_zeros<float>(qn), d_lse = dev_zeros<float>(ln);
  const AttentionBf16ForwardArgs fa{d_out.p(), d_lse.p(), d_q.p(), d_k.p(), d_v.p(), gstart, sh};
  {
    Row& row = c.begin(std::string(k.what) + " forward bf16", shape, k.cls);
    cuda::attention_bf16_forward_cuda(fa);
    c.compare(row, "out", d_out.get(), out, {1e-3, 4e-3});
    c.compare(row, "lse", d_lse.get(), lse, {1e-5, 1e-5});
    c.time(row, [&] { cuda::attention_bf16_forward_cuda(fa); }, 4.0 * k.D * pairs, 0, Peak::tensor_bf16);
  }
  if (std::string(k.what) != "train") return;
  Row& row = c.begin("train backward bf16 dq+dk+dv", shape, k.cls);
  vector<uint16_t> gb;
  vector<float> gr;
  round(uniform(rng, qn, -1, 1), gb, gr);
  auto dq = uniform(rng, qn, -1, 1), dk = uniform(rng, kn, -1, 1), dv = uniform(rng, kn, -1, 1);
  auto d_g = up(gb); auto d_dq = up(dq); auto d_dk = up(dk); auto d_dv = up(dv);
  cpu::attention_backward_cpu({dq.data(), dk.data(), dv.data(), gr.data(), out.data(), lse.data(), qr.data(), kr.data(),
                               vr.data(), hstart, sh});
  // From the GPU's own forward outputs, as training does.
  const AttentionBf16BackwardArgs ba{d_dq.p(), d_dk.p(), d_dv.p(), d_g.p(), d_out.p(), d_lse.p(), d_q.p(), d_k.p(), d_v.p(),
                                     gstart, sh};
  cuda::attention_bf16_backward_cuda(ba);
  c.compare(row, "dq", d_dq.get(), dq, scaled(dq, 1e-3, 8e-3));
  c.compare(row, "dk", d_dk.get(), dk, scaled(dk, 1e-3, 8e-3));
  c.compare(row, "dv", d_dv.get(), dv, scaled(dv, 1e-3, 8e-3));
  c.time(row, [&] { cuda::attention_bf16_backward_cuda(ba); }, 10.0 * k.D * pairs, 0, Peak::tensor_bf16);
}

void check_attention(Ctx& c) {
  const AttentionCase cases[] = {
      {1, 3, 3, 3, 2, 1, 8, false, "tiny", "train"},
      {1, 1, 5, 6, 2, 2, 8, true, "tiny", "decode"},
      {2, 33, 70, 72, 4, 2, 100, true, "odd", "train"},
      {2, 33, 70, 70, 14, 2, 64, false, "odd", "train"},
      {1, 17, 17, 17, 2, 1, 256, false, "odd", "train"},
      {3, 1, 70, 80, 14, 2, 64, true, "odd", "decode"},
      {2, 512, 512, 512, 14, 2, 64, false, "realistic", "train"},
      {16, 1, 1000, 1024, 14, 2, 64, true, "realistic", "decode"},
      {2, 33, 70, 70, 4, 2, 64, true, "sanitize", "train"},
      {2, 33, 70, 70, 4, 2, 100, true, "sanitize", "train"},
      {2, 33, 70, 70, 4, 2, 256, true, "sanitize", "train"},
  };
  int seed = 100;
  for (const auto& k : cases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"B", k.B}, {"T", k.T}, {"S", k.S}, {"H", k.H}, {"KVH", k.KVH}, {"D", k.D}}) +
                              (k.kv_start ? " +kvStart" : "");
    const int64_t qn = k.B * k.T * k.H * k.D, kn = k.B * k.Smax * k.KVH * k.D;
    const auto q = uniform(rng, qn, -1, 1), kk = uniform(rng, kn, -1, 1), v = uniform(rng, kn, -1, 1);
    vector<int32_t> start(k.B, 0);
    if (k.kv_start)
      for (int64_t b = 0; b < k.B; ++b) start[b] = static_cast<int32_t>(rng.below(std::min<int64_t>(k.S - k.T + 1, 9)));
    const float scale = 1.0f / std::sqrt(float(k.D));
    const AttentionShape sh{k.B, k.T, k.H, k.KVH, k.D, k.S, k.Smax, scale};
    // (query, key) pairs attended: FLOPs 4 D per pair forward (QK^T and PV), 10 D backward.
    double pairs = 0;
    for (int64_t b = 0; b < k.B; ++b)
      for (int64_t t = 0; t < k.T; ++t) pairs += std::max<int64_t>(0, k.S - k.T + t + 1 - start[b]);
    pairs *= k.H;
    auto d_q = up(q); auto d_k = up(kk); auto d_v = up(v); auto d_start = up(start);
    const int32_t* gstart = k.kv_start ? d_start.p() : nullptr;
    vector<float> out(qn), lse(k.B * k.H * k.T);
    cpu::attention_forward_cpu({out.data(), lse.data(), q.data(), kk.data(), v.data(), k.kv_start ? start.data() : nullptr, sh});
    auto d_out = dev_zeros<float>(qn), d_lse = dev_zeros<float>(lse.size());
    const AttentionForwardArgs fa{d_out.p(), d_lse.p(), d_q.p(), d_k.p(), d_v.p(), gstart, sh};
    {
      Row& row = c.begin(std::string(k.what) + " forward", shape, k.cls);
      cuda::attention_forward_cuda(fa);
      c.compare(row, "out", d_out.get(), out, {1e-4, 1e-5});
      c.compare(row, "lse", d_lse.get(), lse, {1e-5, 1e-5});
      c.time(row, [&] { cuda::attention_forward_cuda(fa); }, 4.0 * k.D * pairs, 0, Peak::fp32_fma);
    }
    if (std::string(k.what) == "train") {
      Row& row = c.begin("train backward dq+dk+dv", shape, k.cls);
      const auto dout = uniform(rng, qn, -1, 1);
      auto dq = uniform(rng, qn, -1, 1), dk = uniform(rng, kn, -1, 1), dv = uniform(rng, kn, -1, 1);
      auto d_dout = up(dout); auto d_dq = up(dq); auto d_dk = up(dk); auto d_dv = up(dv);
      cpu::attention_backward_cpu({dq.data(), dk.data(), dv.data(), dout.data(), out.data(), lse.data(), q.data(), kk.data(),
                                   v.data(), k.kv_start ? start.data() : nullptr, sh});
      // Backward from the GPU's own forward outputs, as training does.
      const AttentionBackwardArgs ba{d_dq.p(), d_dk.p(), d_dv.p(), d_dout.p(), d_out.p(), d_lse.p(),
                                     d_q.p(),  d_k.p(),  d_v.p(),  gstart,     sh};
      cuda::attention_backward_cuda(ba);
      c.compare(row, "dq", d_dq.get(), dq, {1e-4, 1e-5 * std::sqrt(double(k.S))});
      c.compare(row, "dk", d_dk.get(), dk, {1e-4, 1e-5 * std::sqrt(double(k.T * k.H / k.KVH))});
      c.compare(row, "dv", d_dv.get(), dv, {1e-4, 1e-5 * std::sqrt(double(k.T * k.H / k.KVH))});
      c.time(row, [&] { cuda::attention_backward_cuda(ba); }, 10.0 * k.D * pairs, 0, Peak::fp32_fma);
    }
    check_attention_bf16(c, k, sh, q, kk, v, start, pairs, rng);
    c.end_case();
  }
}

// ---- rmsnorm, rope, swiglu, embedding -------------------------------------------------------

// bf16 bits read back from the device -> the floats they stand for.
vector<float> widen_bf16(const vector<uint16_t>& bits) {
  vector<float> out(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) out[i] = bf16_value(bits[i]);
  return out;
}

void check_rmsnorm(Ctx& c) {
  struct K { int64_t N, C; const char* cls; };
  const K cases[] = {{3, 8, "tiny"}, {33, 130, "odd"}, {17, 896, "odd"}, {4096, 896, "realistic"}, {33, 130, "sanitize"}, {64, 896, "sanitize"}};
  int seed = 200;
  for (const auto& k : cases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"N", k.N}, {"C", k.C}});
    const auto x = normal(rng, k.N * k.C, 1), w = uniform(rng, k.C, 0.5f, 1.5f);
    auto d_x = up(x); auto d_w = up(w);
    vector<float> out(k.N * k.C), rstd(k.N);
    cpu::rmsnorm_forward_cpu({out.data(), rstd.data(), x.data(), w.data(), k.C, 1e-6f, k.N}, k.N);
    auto d_out = dev_zeros<float>(out.size()), d_rstd = dev_zeros<float>(k.N);
    const RmsnormForwardArgs fa{d_out.p(), d_rstd.p(), d_x.p(), d_w.p(), k.C, 1e-6f, k.N};
    {
      Row& row = c.begin("forward", shape, k.cls);
      cuda::rmsnorm_forward_cuda(fa);
      c.compare(row, "out", d_out.get(), out, {1e-5, 1e-6});
      c.compare(row, "rstd", d_rstd.get(), rstd, {1e-5, 1e-7});
      c.time(row, [&] { cuda::rmsnorm_forward_cuda(fa); }, 0, 8.0 * k.N * k.C, Peak::hbm);
    }
    {
      // The fused bf16 outputs of 'bf16-mixed' (rmsnorm_forward_bf16_cuda): bf16 only, and a bf16
      // copy next to the float32 out. Against the CPU's float32 out: half a bf16 ulp (2^-8 relative).
      const RmsnormForwardArgs bf{nullptr, d_rstd.p(), d_x.p(), d_w.p(), k.C, 1e-6f, k.N};
      auto d_bf = dev_zeros<uint16_t>(out.size());
      Row& row = c.begin("forward bf16 out", shape, k.cls);
      cuda::rmsnorm_forward_bf16_cuda(bf, d_bf.p());
      c.compare(row, "out", widen_bf16(d_bf.get()), out, {0.00392, 1e-6});
      c.compare(row, "rstd", d_rstd.get(), rstd, {1e-5, 1e-7});
      c.time(row, [&] { cuda::rmsnorm_forward_bf16_cuda(bf, d_bf.p()); }, 0, 6.0 * k.N * k.C, Peak::hbm);
      Row& both = c.begin("forward f32 + bf16 copy", shape, k.cls);
      cuda::rmsnorm_forward_bf16_cuda(fa, d_bf.p());
      c.compare(both, "out", d_out.get(), out, {1e-5, 1e-6});
      c.compare(both, "outBf16", widen_bf16(d_bf.get()), out, {0.00392, 1e-6});
      c.time(both, [&] { cuda::rmsnorm_forward_bf16_cuda(fa, d_bf.p()); }, 0, 10.0 * k.N * k.C, Peak::hbm);
    }
    {
      Row& row = c.begin("backward dinp+dweight", shape, k.cls);
      const auto dout = normal(rng, k.N * k.C, 1);
      auto dinp = normal(rng, k.N * k.C, 1), dw = normal(rng, k.C, 1);
      auto d_dout = up(dout); auto d_dinp = up(dinp); auto d_dw = up(dw);
      cpu::rmsnorm_backward_cpu(dinp.data(), dw.data(), dout.data(), x.data(), w.data(), rstd.data(), k.N, k.C);
      const RmsnormBackwardArgs ba{d_dinp.p(), d_dout.p(), d_x.p(), d_w.p(), d_rstd.p(), k.C, d_dw.p(), k.N};
      cuda::rmsnorm_backward_cuda(ba);
      c.compare(row, "dinp", d_dinp.get(), dinp, {1e-4, 1e-5});
      c.compare(row, "dweight", d_dw.get(), dw, {1e-4, 1e-5 * std::sqrt(double(k.N))});
      c.time(row, [&] { cuda::rmsnorm_backward_cuda(ba); }, 0, 16.0 * k.N * k.C, Peak::hbm);
    }
    c.end_case();
  }
}

void check_rope(Ctx& c) {
  struct K { int64_t N, heads, D; const char* cls; };
  const K cases[] = {{3, 2, 8, "tiny"}, {33, 3, 34, "odd"}, {17, 14, 64, "odd"}, {4096, 14, 64, "realistic"}, {33, 3, 34, "sanitize"}};
  const double theta = 1e6;  // Qwen2.5's rope_theta
  int seed = 300;
  for (const auto& k : cases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"N", k.N}, {"heads", k.heads}, {"D", k.D}});
    const int64_t n = k.N * k.heads * k.D;
    const auto x = normal(rng, n, 1);
    const auto pos = integers(rng, k.N, 32768);
    vector<float> inv_freq(k.D / 2);
    cpu::rope_inverse_frequencies(inv_freq.data(), k.D, theta);
    auto d_x = up(x); auto d_pos = up(pos); auto d_f = up(inv_freq);
    for (bool backward : {false, true}) {
      Row& row = c.begin(backward ? "backward" : "forward", shape, k.cls);
      vector<float> out(n);
      if (backward) cpu::rope_backward_cpu(out.data(), x.data(), pos.data(), k.N, k.heads, k.D, theta, inv_freq.data());
      else cpu::rope_forward_cpu(out.data(), x.data(), pos.data(), k.N, k.heads, k.D, theta, inv_freq.data());
      auto d_out = dev_zeros<float>(n);
      const RopeArgs a{d_out.p(), d_x.p(), d_pos.p(), d_f.p(), k.N, k.heads, k.D, backward};
      cuda::rope_cuda(a);
      c.compare(row, "out", d_out.get(), out, {1e-5, 1e-6});
      c.time(row, [&] { cuda::rope_cuda(a); }, 0, 8.0 * n, Peak::hbm);
    }
    c.end_case();
  }
}

void check_swiglu(Ctx& c) {
  struct K { int64_t N, F; const char* cls; };
  const K cases[] = {{3, 4, "tiny"}, {33, 67, "odd"}, {4096, 4864, "realistic"}, {33, 67, "sanitize"}};
  int seed = 400;
  for (const auto& k : cases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"N", k.N}, {"F", k.F}});
    const auto x = normal(rng, k.N * 2 * k.F, 2), dout = normal(rng, k.N * k.F, 1);
    auto d_x = up(x); auto d_dout = up(dout);
    {
      Row& row = c.begin("forward", shape, k.cls);
      vector<float> out(k.N * k.F);
      cpu::swiglu_forward_cpu(out.data(), x.data(), k.N, k.F);
      auto d_out = dev_zeros<float>(out.size());
      cuda::swiglu_forward_cuda(d_out.p(), d_x.p(), k.N, k.F);
      c.compare(row, "out", d_out.get(), out, {1e-5, 1e-6});
      c.time(row, [&] { cuda::swiglu_forward_cuda(d_out.p(), d_x.p(), k.N, k.F); }, 0, 12.0 * k.N * k.F, Peak::hbm);
      // The fused bf16 output of 'bf16-mixed' (swiglu_forward_bf16_cuda): half a bf16 ulp of the CPU's float32.
      Row& bf = c.begin("forward bf16 out", shape, k.cls);
      auto d_bf = dev_zeros<uint16_t>(out.size());
      cuda::swiglu_forward_bf16_cuda(d_bf.p(), d_x.p(), k.N, k.F);
      c.compare(bf, "out", widen_bf16(d_bf.get()), out, {0.00392, 1e-6});
      c.time(bf, [&] { cuda::swiglu_forward_bf16_cuda(d_bf.p(), d_x.p(), k.N, k.F); }, 0, 10.0 * k.N * k.F, Peak::hbm);
    }
    {
      // The bf16 gate/up GEMM with SwiGLU in its epilogue (matmul_bf16_swiglu_cuda), against the
      // CPU's sgemm on the bf16-rounded inputs then its swiglu: gu to fp32 accumulation's
      // tolerance, s to half a bf16 ulp more.
      const int64_t C = k.N >= 4096 ? 896 : 40;
      const std::string gshape = shape_str({{"N", k.N}, {"C", C}, {"F", k.F}});
      vector<uint16_t> hb(k.N * C), wb(2 * k.F * C);
      vector<float> h(hb.size()), w(wb.size());
      const auto h0 = normal(rng, hb.size(), 1), w0 = normal(rng, wb.size(), 0.05);
      for (size_t i = 0; i < hb.size(); ++i) h[i] = bf16_value(hb[i] = bf16_bits(h0[i]));
      for (size_t i = 0; i < wb.size(); ++i) w[i] = bf16_value(wb[i] = bf16_bits(w0[i]));
      vector<float> gu(k.N * 2 * k.F), s(k.N * k.F);
      cpu::matmul_forward_cpu(gu.data(), h.data(), w.data(), nullptr, nullptr, k.N, C, 2 * k.F);
      cpu::swiglu_forward_cpu(s.data(), gu.data(), k.N, k.F);
      auto d_h = up(hb); auto d_w = up(wb);
      auto d_gu = dev_zeros<float>(gu.size()); auto d_s = dev_zeros<uint16_t>(s.size());
      const cuda::MatmulBf16SwigluArgs a{d_gu.p(), d_s.p(), d_h.p(), d_w.p(), k.N, C, k.F};
      Row& row = c.begin("gate/up GEMM + SwiGLU epilogue bf16", gshape, k.cls);
      cuda::matmul_bf16_swiglu_cuda(a);
      c.compare(row, "gu", d_gu.get(), gu, {1e-4, 1e-5 * std::sqrt(double(C))});
      c.compare(row, "s", widen_bf16(d_s.get()), s, {0.0042, 1e-5 * std::sqrt(double(C))});
      c.time(row, [&] { cuda::matmul_bf16_swiglu_cuda(a); }, 4.0 * k.N * C * k.F, 0, Peak::tensor_bf16);
    }
    {
      Row& row = c.begin("backward", shape, k.cls);
      vector<float> dinp(k.N * 2 * k.F);
      cpu::swiglu_backward_cpu(dinp.data(), dout.data(), x.data(), k.N, k.F);
      auto d_dinp = dev_zeros<float>(dinp.size());
      cuda::swiglu_backward_cuda(d_dinp.p(), d_dout.p(), d_x.p(), k.N, k.F);
      c.compare(row, "dinp", d_dinp.get(), dinp, {1e-5, 1e-6});
      c.time(row, [&] { cuda::swiglu_backward_cuda(d_dinp.p(), d_dout.p(), d_x.p(), k.N, k.F); }, 0, 20.0 * k.N * k.F, Peak::hbm);
    }
    c.end_case();
  }
}

void check_embedding(Ctx& c) {
  struct K { int64_t N, V, C; const char* cls; };
  const K cases[] = {{5, 7, 4, "tiny"}, {33, 101, 130, "odd"}, {4096, 151936, 896, "realistic"}, {33, 101, 130, "sanitize"}};
  int seed = 500;
  for (const auto& k : cases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"N", k.N}, {"V", k.V}, {"C", k.C}});
    const auto table = uniform(rng, k.V * k.C, -1, 1);
    auto tokens = integers(rng, k.N, k.V);
    for (int64_t i = 1; i < k.N; i += 3) tokens[i] = tokens[i - 1];  // repeated tokens: the backward's sums
    auto d_table = up(table); auto d_tok = up(tokens);
    {
      Row& row = c.begin("forward", shape, k.cls);
      vector<float> out(k.N * k.C);
      cpu::embedding_forward_cpu(out.data(), tokens.data(), table.data(), k.N, k.C);
      auto d_out = dev_zeros<float>(out.size());
      cuda::embedding_forward_cuda(d_out.p(), d_tok.p(), d_table.p(), k.N, k.C);
      c.compare(row, "out", d_out.get(), out, {0, 0});
      row.note += "out bit-exact (a copy); ";
      c.time(row, [&] { cuda::embedding_forward_cuda(d_out.p(), d_tok.p(), d_table.p(), k.N, k.C); }, 0, 8.0 * k.N * k.C, Peak::hbm);
    }
    {
      Row& row = c.begin("backward dtable", shape, k.cls);
      const auto dout = uniform(rng, k.N * k.C, -1, 1);
      // Accumulation into a random table for small shapes; zeros for the 545 MB realistic one.
      auto dtable = k.V * k.C > (1 << 20) ? vector<float>(k.V * k.C, 0.0f) : uniform(rng, k.V * k.C, -1, 1);
      auto d_dtable = up(dtable); auto d_dout = up(dout);
      cpu::embedding_backward_cpu(dtable.data(), dout.data(), tokens.data(), k.N, k.C);
      cuda::embedding_backward_cuda(d_dtable.p(), d_dout.p(), d_tok.p(), k.N, k.C);
      c.compare(row, "dtable", d_dtable.get(), dtable, {1e-6, 1e-7});
      c.time(row, [&] { cuda::embedding_backward_cuda(d_dtable.p(), d_dout.p(), d_tok.p(), k.N, k.C); }, 0, 12.0 * k.N * k.C, Peak::hbm);
    }
    c.end_case();
  }
}

// ---- adamw and the gradient norm ------------------------------------------------------------

void check_adamw(Ctx& c) {
  struct K { int64_t n; const char* cls; };
  const K cases[] = {{7, "tiny"}, {1031, "odd"}, {896 * 4864 * 3, "realistic"}, {1031, "sanitize"}};
  int seed = 600;
  for (const auto& k : cases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"n", k.n}});
    auto p = normal(rng, k.n, 0.02f), m = normal(rng, k.n, 1e-3f), v = uniform(rng, k.n, 0, 1e-5f);
    const auto g = normal(rng, k.n, 1e-2f);
    auto d_p = up(p); auto d_m = up(m); auto d_v = up(v); auto d_g = up(g);
    {
      Row& row = c.begin("step", shape, k.cls);
      const AdamwArgs a = cpu::adamw_args(p.data(), m.data(), v.data(), g.data(), 1e-3, 0.9, 0.999, 1e-8, 0.01, 7, 0.5);
      cpu::adamw_step_cpu(a, k.n);
      AdamwArgs ga = a;  // the same scalars on the device buffers
      ga.params = d_p.p(), ga.m = d_m.p(), ga.v = d_v.p(), ga.grads = d_g.p();
      cuda::adamw_step_cuda(ga, k.n);
      c.compare(row, "params", d_p.get(), p, {1e-6, 1e-9});
      c.compare(row, "m", d_m.get(), m, {1e-6, 1e-12});
      c.compare(row, "v", d_v.get(), v, {1e-6, 1e-15});
      c.time(row, [&] { cuda::adamw_step_cuda(ga, k.n); }, 0, 28.0 * k.n, Peak::hbm);
    }
    {
      Row& row = c.begin("grad norm", shape, k.cls);
      const double cpu_norm = cpu::grad_norm_cpu(g.data(), k.n), gpu_norm = cuda::grad_norm_cuda(d_g.p(), k.n);
      c.compare_scalar(row, "norm", gpu_norm, cpu_norm, {1e-6, 0});
      c.time(row, [&] { cuda::grad_norm_cuda(d_g.p(), k.n); }, 0, 4.0 * k.n, Peak::hbm);
    }
    c.end_case();
  }
}

// ---- sampling -------------------------------------------------------------------------------

void check_sampling(Ctx& c) {
  struct K { int64_t B, V; const char* cls; };
  const K cases[] = {{3, 5, "tiny"}, {4, 1031, "odd"}, {64, 151936, "realistic"}, {2, 5, "sanitize"}, {2, 151936, "sanitize"}};
  struct Mode { const char* name; double temperature; int64_t top_k; double top_p; };
  const Mode modes[] = {{"greedy", 0.0, 0, 1.0}, {"T=1", 1.0, 0, 1.0}, {"T=0.7 top-k 50 top-p 0.9", 0.7, 50, 0.9}, {"top-p 0.5", 1.0, 0, 0.5}};
  int seed = 700;
  for (const auto& k : cases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"B", k.B}, {"V", k.V}});
    auto logits = normal(rng, k.B * k.V, 3);
    if (k.V > 5) logits[3] = logits[7] = 40.0f;  // a tie at the top of row 0: lower index wins
    auto d_logits = up(logits);
    for (const auto& md : modes) {
      Row& row = c.begin(std::string("sample ") + md.name, shape, k.cls);
      vector<int32_t> tokens(k.B);
      const uint32_t seed_value = 12345;
      const uint64_t counter = 77;
      const int64_t cpu_bad = cpu::sample_cpu({tokens.data(), logits.data(), k.V, md.temperature, md.top_k, md.top_p, seed_value, counter, k.B}, k.B);
      const double scale = md.temperature == 0 ? 0.0 : kLog2e / md.temperature;  // as native/ops/sampling.cc
      auto d_tokens = dev_zeros<int32_t>(k.B);
      const SampleArgs a{d_tokens.p(), d_logits.p(), k.V, md.temperature, md.top_k, md.top_p,
                         seed_value,    counter,        k.B, md.temperature == 0, scale};
      const int64_t gpu_bad = cuda::sample_cuda(a);
      c.compare_exact(row, "tokens", d_tokens.get(), tokens);
      c.compare_exact(row, "bad row", {static_cast<int32_t>(gpu_bad)}, {static_cast<int32_t>(cpu_bad)});
      c.time(row, [&] { cuda::sample_cuda(a); }, 0, 4.0 * k.B * k.V, Peak::hbm);
    }
    c.end_case();
  }
}

// ---- token log-probs (fused log-softmax gather, entropy) ------------------------------------

void check_token_logprobs(Ctx& c) {
  struct K { int64_t R, V; bool bf16; const char* cls; };
  const K cases[] = {{3, 7, false, "tiny"},        {33, 1031, false, "odd"},        {33, 1031, true, "odd"},
                     {1024, 151936, false, "realistic"}, {1024, 151936, true, "realistic"},
                     {4, 1031, false, "sanitize"}, {4, 1031, true, "sanitize"}};
  const float inv_t = 1.0f / 0.8f;
  int seed = 800;
  for (const auto& k : cases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"R", k.R}, {"V", k.V}}) + (k.bf16 ? " bf16" : " fp32");
    const int64_t n = k.R * k.V;
    auto logits = normal(rng, n, 2);
    logits[0] = -INFINITY;  // a masked-out logit
    vector<uint16_t> bits;
    if (k.bf16) {
      bits.resize(n);
      for (int64_t i = 0; i < n; ++i) bits[i] = bf16_bits(logits[i]);
    }
    const auto targets = integers(rng, k.R, k.V);
    auto d_f32 = k.bf16 ? Dev<float>{} : up(logits);
    auto d_bf = k.bf16 ? up(bits) : Dev<uint16_t>{};
    const void* h_logits = k.bf16 ? static_cast<const void*>(bits.data()) : logits.data();
    const void* g_logits = k.bf16 ? static_cast<const void*>(d_bf.p()) : d_f32.p();
    auto d_t = up(targets);
    const double elt = k.bf16 ? 2 : 4;
    vector<float> lp(k.R), lz(k.R), ent(k.R);
    cpu::token_logprobs_forward_cpu({lp.data(), lz.data(), ent.data(), h_logits, k.bf16, targets.data(), k.V, inv_t, k.R}, k.R);
    auto d_lp = dev_zeros<float>(k.R), d_lz = dev_zeros<float>(k.R), d_ent = dev_zeros<float>(k.R);
    {
      Row& row = c.begin("forward +entropy", shape, k.cls);
      const TokenLogprobsForwardArgs a{d_lp.p(), d_lz.p(), d_ent.p(), g_logits, k.bf16, d_t.p(), k.V, inv_t, k.R};
      cuda::token_logprobs_forward_cuda(a);
      c.compare(row, "logprobs", d_lp.get(), lp, {2e-5, 2e-5});
      c.compare(row, "logZ", d_lz.get(), lz, {2e-5, 2e-5});
      c.compare(row, "entropy", d_ent.get(), ent, {2e-5, 2e-5});
      c.time(row, [&] { cuda::token_logprobs_forward_cuda(a); }, 0, elt * n, Peak::hbm);
    }
    {
      Row& row = c.begin("backward +dentropy", shape, k.cls);
      const auto g = normal(rng, k.R, 1), gh = normal(rng, k.R, 0.1f);
      auto d_g = up(g); auto d_gh = up(gh);
      vector<float> dl(n);
      cpu::token_logprobs_backward_cpu({dl.data(), h_logits, k.bf16, targets.data(), lz.data(), g.data(), ent.data(), gh.data(), k.V, inv_t, 0, k.R}, k.R);
      auto d_dl = dev_zeros<float>(n);
      const TokenLogprobsBackwardArgs a{d_dl.p(), g_logits, k.bf16, d_t.p(), d_lz.p(), d_g.p(), d_ent.p(), d_gh.p(), k.V, inv_t, 0, k.R};
      cuda::token_logprobs_backward_cuda(a);
      c.compare(row, "dlogits", d_dl.get(), dl, scaled(dl, 1e-4, 1e-6));
      c.time(row, [&] { cuda::token_logprobs_backward_cuda(a); }, 0, (elt + 4) * n, Peak::hbm);
    }
    c.end_case();
  }
}

// ---- linear log-probs (output projection fused with token log-probs, vocabulary-chunked) ----

void check_linear_logprobs(Ctx& c) {
  struct K { int64_t M, N, C, V, chunk; bool rows, bf16; const char* cls; };
  const K cases[] = {{5, 5, 16, 37, 16, false, false, "tiny"},
                     {40, 33, 67, 1031, 256, true, false, "odd"},
                     {40, 33, 67, 1031, 300, false, true, "odd"},
                     {512, 512, 896, 151936, 8192, false, false, "realistic"},
                     {512, 512, 896, 151936, 8192, false, true, "realistic"},
                     {9, 7, 67, 1031, 256, true, true, "sanitize"}};
  const float inv_t = 1.0f;
  int seed = 900;
  for (const auto& k : cases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"N", k.N}, {"M", k.M}, {"C", k.C}, {"V", k.V}, {"chunk", k.chunk}}) +
                              (k.rows ? " +rows" : "") + (k.bf16 ? " bf16 weight" : "");
    const auto hidden = normal(rng, k.M * k.C, 1);
    auto weight = normal(rng, k.V * k.C, 0.05f);
    vector<uint16_t> wbits;
    if (k.bf16) {
      wbits.resize(weight.size());
      for (size_t i = 0; i < weight.size(); ++i) wbits[i] = bf16_bits(weight[i]);
    }
    const auto targets = integers(rng, k.N, k.V);
    vector<int32_t> rows;
    if (k.rows) {  // distinct rows of hidden, shuffled
      vector<int32_t> all(k.M);
      for (int64_t i = 0; i < k.M; ++i) all[i] = static_cast<int32_t>(i);
      for (int64_t i = k.M - 1; i > 0; --i) std::swap(all[i], all[rng.below(i + 1)]);
      rows.assign(all.begin(), all.begin() + k.N);
    }
    auto d_h = up(hidden); auto d_t = up(targets); auto d_rows = up(rows);
    auto d_wf = k.bf16 ? Dev<float>{} : up(weight);
    auto d_wb = k.bf16 ? up(wbits) : Dev<uint16_t>{};
    const void* hw = k.bf16 ? static_cast<const void*>(wbits.data()) : weight.data();
    const void* gw = k.bf16 ? static_cast<const void*>(d_wb.p()) : d_wf.p();
    const LinearLogprobsArgs ca{hidden.data(), hw, 0, k.bf16, targets.data(), k.rows ? rows.data() : nullptr, k.N, k.C, k.V, k.chunk, inv_t};
    const LinearLogprobsArgs ga{d_h.p(), gw, 0, k.bf16, d_t.p(), k.rows ? d_rows.p() : nullptr, k.N, k.C, k.V, k.chunk, inv_t};
    vector<float> lp(k.N), lz(k.N), ent(k.N);
    cpu::linear_logprobs_forward_cpu(ca, {lp.data(), lz.data(), ent.data()});
    auto d_lp = dev_zeros<float>(k.N), d_lz = dev_zeros<float>(k.N), d_ent = dev_zeros<float>(k.N);
    const double flops = 2.0 * k.N * k.C * k.V;
    {
      Row& row = c.begin("forward +entropy", shape, k.cls);
      const LinearLogprobsOutputs o{d_lp.p(), d_lz.p(), d_ent.p()};
      cuda::linear_logprobs_forward_cuda(ga, o);
      c.compare(row, "logprobs", d_lp.get(), lp, {1e-4, 1e-4});
      c.compare(row, "logZ", d_lz.get(), lz, {1e-4, 1e-4});
      c.compare(row, "entropy", d_ent.get(), ent, {1e-4, 1e-4});
      c.time(row, [&] { cuda::linear_logprobs_forward_cuda(ga, o); }, flops, 0, Peak::fp32_fma);
    }
    {
      Row& row = c.begin("backward dhidden+dweight", shape, k.cls);
      const auto g = normal(rng, k.N, 1), gh = normal(rng, k.N, 0.1f);
      auto dh = normal(rng, k.M * k.C, 1);
      auto dw = k.V * k.C > (1 << 20) ? vector<float>(k.V * k.C, 0.0f) : normal(rng, k.V * k.C, 1);
      auto d_g = up(g); auto d_gh = up(gh); auto d_dh = up(dh); auto d_dw = up(dw);
      cpu::linear_logprobs_backward_cpu(ca, {lz.data(), g.data(), ent.data(), gh.data(), dh.data(), dw.data()});
      const LinearLogprobsGrads gg{d_lz.p(), d_g.p(), d_ent.p(), d_gh.p(), d_dh.p(), d_dw.p()};
      cuda::linear_logprobs_backward_cuda(ga, gg);
      c.compare(row, "dhidden", d_dh.get(), dh, scaled(dh, 1e-4, 1e-5));
      c.compare(row, "dweight", d_dw.get(), dw, scaled(dw, 1e-4, 1e-5));
      // Recomputes the logits tile, then dz.W and dz^T.h: three GEMMs of the forward's size.
      c.time(row, [&] { cuda::linear_logprobs_backward_cuda(ga, gg); }, 3.0 * flops, 0, Peak::fp32_fma);
    }
    c.end_case();
  }
}

}  // namespace

std::vector<FamilyEntry> model_families() {
  return {{"matmul", check_matmul},
          {"attention", check_attention},
          {"rmsnorm", check_rmsnorm},
          {"rope", check_rope},
          {"swiglu", check_swiglu},
          {"embedding", check_embedding},
          {"adamw", check_adamw},
          {"sampling", check_sampling},
          {"token_logprobs", check_token_logprobs},
          {"linear_logprobs", check_linear_logprobs}};
}

}  // namespace steprl::check
