// families_rl.cc: the RL kernel families of check_gpu: policy_loss, kl_penalty, entropy_segments,
// the advantage families (gae, group, prl, prpo, process_grpo, reinforce), weibull_reward and
// prm_score. Each check fills the CPU and CUDA argument structs field by field from the same
// inputs, calls cpu::<family>_cpu and cuda::<family>_cuda, and compares every output.
// Shapes: tiny; odd (T = 900 for the scans, R = 1, 2, 5000 for the group ops, as the issue's
// sanitizer list); realistic = an RL batch of 64 rows x 4096 tokens (groups of 8).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "check.h"
#include "entropy_segments.h"
#include "gae.h"
#include "group_advantage.h"
#include "kl_penalty.h"
#include "native/cpu/entropy_segments.h"
#include "native/cpu/gae.h"
#include "native/cpu/group_advantage.h"
#include "native/cpu/kl_penalty.h"
#include "native/cpu/policy_loss.h"
#include "native/cpu/prl_advantage.h"
#include "native/cpu/prm_score.h"
#include "native/cpu/process_grpo_advantage.h"
#include "native/cpu/prpo_advantage.h"
#include "native/cpu/reinforce_advantage.h"
#include "native/cpu/weibull_reward.h"
#include "policy_loss.h"
#include "prl_advantage.h"
#include "prm_score.h"
#include "process_grpo_advantage.h"
#include "prpo_advantage.h"
#include "reinforce_advantage.h"
#include "weibull_reward.h"

namespace steprl::check {
namespace {

using std::vector;

// [R, T] cases shared by the token-level families.
struct RT {
  int64_t R, T;
  const char* cls;
};
const RT kTokenCases[] = {{2, 5, "tiny"}, {7, 900, "odd"}, {64, 4096, "realistic"}, {7, 900, "sanitize"}};

vector<int32_t> group_ids(int64_t R, int64_t G) {  // rows i*G .. i*G+G-1 share a group, ids spread out
  vector<int32_t> g(R);
  for (int64_t i = 0; i < R; ++i) g[i] = static_cast<int32_t>((i / G) * 7 + 3);
  return g;
}
const void* mask_ptr(bool u8, const Dev<float>& f, const Dev<uint8_t>& b) {
  return u8 ? static_cast<const void*>(b.p()) : static_cast<const void*>(f.p());
}
const void* mask_ptr(bool u8, const vector<float>& f, const vector<uint8_t>& b) {
  return u8 ? static_cast<const void*>(b.data()) : static_cast<const void*>(f.data());
}
// Step offsets [R+1] with 0..max_steps steps per row.
vector<int32_t> offsets(Rng& rng, int64_t R, int64_t max_steps) {
  vector<int32_t> o(R + 1, 0);
  for (int64_t i = 0; i < R; ++i) o[i + 1] = o[i] + static_cast<int32_t>(rng.below(max_steps + 1));
  return o;
}

// ---- policy loss ----------------------------------------------------------------------------

void check_policy_loss(Ctx& c) {
  struct Mode {
    const char* name;
    PolicyLossMode mode;
    LossAggregation agg;
    bool ref, u8;
  };
  const Mode modes[] = {{"clip token-mean k3 dual", PolicyLossMode::clip, LossAggregation::token_mean, true, false},
                        {"gspo seq-mean-token-mean", PolicyLossMode::gspo, LossAggregation::seq_mean_token_mean, false, true},
                        {"gspo-token seq-mean-token-sum", PolicyLossMode::gspo_token, LossAggregation::seq_mean_token_sum, true, false},
                        {"cispo token-sum-norm", PolicyLossMode::cispo, LossAggregation::seq_mean_token_sum_norm, true, true}};
  int seed = 1000;
  for (const auto& k : kTokenCases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const int64_t n = k.R * k.T;
    const std::string shape = shape_str({{"R", k.R}, {"T", k.T}});
    const auto lp = uniform(rng, n, -3, 0);
    auto old = lp, ref = lp;
    for (int64_t i = 0; i < n; ++i) {
      old[i] += rng.uniform(-0.4f, 0.4f);
      ref[i] += rng.uniform(-0.4f, 0.4f);
    }
    const auto adv = normal(rng, n, 1);
    const auto mask = prefix_mask(rng, k.R, k.T, 0);
    const auto mask8 = to_u8(mask);
    auto d_lp = up(lp); auto d_old = up(old); auto d_ref = up(ref); auto d_adv = up(adv); auto d_m = up(mask);
    auto d_m8 = up(mask8);
    for (const auto& md : modes) {
      Row& row = c.begin(std::string(md.name) + (md.u8 ? " u8 mask" : ""), shape, k.cls);
      vector<float> dl(n);
      PolicyLossArgs a{};
      a.dlogprobs = dl.data();
      a.logprobs = lp.data();
      a.old_logprobs = old.data();
      a.ref_logprobs = md.ref ? ref.data() : nullptr;
      a.advantages = adv.data();
      a.mask = mask_ptr(md.u8, mask, mask8);
      a.mask_u8 = md.u8;
      a.T = k.T;
      a.clip_low = 0.2f;
      a.clip_high = 0.28f;
      a.dual_clip = md.mode == PolicyLossMode::clip ? 3.0f : INFINITY;
      a.kl_coef = md.ref ? 0.05f : 0.0f;
      a.kl_estimator = KlEstimator::k3;
      a.aggregation = md.agg;
      a.mode = md.mode;
      a.token_count = 0;
      a.row_count = double(k.R);
      a.max_length = double(k.T);
      a.loss_scale = 1.0;
      const PolicyLossResult cr = cpu::policy_loss_cpu(a, k.R);
      auto d_dl = dev_zeros<float>(n);
      PolicyLossArgs g = a;  // the same settings, on the device buffers
      g.dlogprobs = d_dl.p();
      g.logprobs = d_lp.p();
      g.old_logprobs = d_old.p();
      g.ref_logprobs = md.ref ? d_ref.p() : nullptr;
      g.advantages = d_adv.p();
      g.mask = mask_ptr(md.u8, d_m, d_m8);
      g.R = k.R;
      const PolicyLossResult gr = cuda::policy_loss_cuda(g);
      const Tol st{1e-5, 1e-7};
      c.compare(row, "dlogprobs", d_dl.get(), dl, {1e-5, 1e-9});
      c.compare_scalar(row, "loss", gr.loss, cr.loss, st);
      c.compare_scalar(row, "pg_loss", gr.pg_loss, cr.pg_loss, st);
      c.compare_scalar(row, "kl_loss", gr.kl_loss, cr.kl_loss, st);
      c.compare_scalar(row, "clip_fraction", gr.clip_fraction, cr.clip_fraction, st);
      c.compare_scalar(row, "kl", gr.kl, cr.kl, st);
      c.compare_scalar(row, "approx_kl", gr.approx_kl, cr.approx_kl, st);
      c.time(row, [&] { cuda::policy_loss_cuda(g); }, 0, (md.ref ? 24.0 : 20.0) * n, Peak::hbm);
    }
    c.end_case();
  }
}

// ---- kl penalty -----------------------------------------------------------------------------

void check_kl_penalty(Ctx& c) {
  struct K { int64_t n; const char* cls; };
  const K cases[] = {{7, "tiny"}, {1031, "odd"}, {64 * 4096, "realistic"}, {1031, "sanitize"}};
  const std::pair<const char*, KlEstimator> estimators[] = {
      {"k1", KlEstimator::k1}, {"k2", KlEstimator::k2}, {"k3", KlEstimator::k3},
      {"k3+", KlEstimator::k3_plus}, {"abs", KlEstimator::abs}};
  int seed = 1100;
  for (const auto& k : cases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"n", k.n}});
    const auto lp = uniform(rng, k.n, -5, 0);
    auto ref = lp;
    for (int64_t i = 0; i < k.n; ++i) ref[i] += (i % 97 == 5) ? 25.0f : rng.uniform(-1.0f, 1.0f);  // some clamped deltas
    auto d_lp = up(lp); auto d_ref = up(ref);
    for (const auto& [name, est] : estimators) {
      Row& row = c.begin(std::string("estimator ") + name, shape, k.cls);
      vector<float> kl(k.n), dkl(k.n);
      cpu::kl_penalty_forward_cpu({kl.data(), dkl.data(), lp.data(), ref.data(), est, k.n}, k.n);
      auto d_kl = dev_zeros<float>(k.n), d_dkl = dev_zeros<float>(k.n);
      const KlPenaltyArgs a{d_kl.p(), d_dkl.p(), d_lp.p(), d_ref.p(), est, k.n};
      cuda::kl_penalty_cuda(a);
      c.compare(row, "kl", d_kl.get(), kl, {2e-6, 1e-7});
      c.compare(row, "dkl", d_dkl.get(), dkl, {2e-6, 1e-7});
      c.time(row, [&] { cuda::kl_penalty_cuda(a); }, 0, 16.0 * k.n, Peak::hbm);
    }
    c.end_case();
  }
}

// ---- entropy segments -----------------------------------------------------------------------

void check_entropy_segments(Ctx& c) {
  int seed = 1200;
  for (const auto& k : kTokenCases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"R", k.R}, {"T", k.T}});
    const int64_t n = k.R * k.T;
    auto ent = uniform(rng, n, 0, 3);
    for (int64_t i = 0; i + 1 < n; i += 11) ent[i + 1] = ent[i];  // ties: lower index first
    const auto mask = prefix_mask(rng, k.R, k.T, 0);
    const auto mask8 = to_u8(mask);
    auto d_e = up(ent); auto d_m = up(mask); auto d_m8 = up(mask8);
    struct V { int64_t K, gap; bool compat, u8; };
    const V variants[] = {{4, 2, false, false}, {8, 3, true, true}, {std::min<int64_t>(k.T, 64), 5, false, true}};
    for (const auto& v : variants) {
      Row& row = c.begin("K=" + std::to_string(v.K) + " gap=" + std::to_string(v.gap) + (v.compat ? " compat" : "") + (v.u8 ? " u8" : ""), shape, k.cls);
      vector<int32_t> seg(n);
      EntropySegmentsArgs a{};
      a.segments = seg.data();
      a.entropy = ent.data();
      a.mask = mask_ptr(v.u8, mask, mask8);
      a.mask_u8 = v.u8;
      a.T = k.T;
      a.max_branches = v.K;
      a.min_gap = v.gap;
      a.compat = v.compat;
      cpu::entropy_segments_cpu(a, k.R);
      auto d_seg = dev_zeros<int32_t>(n);
      EntropySegmentsArgs g = a;  // the same settings, on the device buffers
      g.segments = d_seg.p();
      g.entropy = d_e.p();
      g.mask = mask_ptr(v.u8, d_m, d_m8);
      g.R = k.R;
      cuda::entropy_segments_cuda(g);
      c.compare_exact(row, "segments", d_seg.get(), seg);
      c.time(row, [&] { cuda::entropy_segments_cuda(g); }, 0, 9.0 * n, Peak::hbm);
    }
    c.end_case();
  }
}

// ---- GAE ------------------------------------------------------------------------------------

void check_gae(Ctx& c) {
  int seed = 1300;
  for (const auto& k : kTokenCases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"R", k.R}, {"T", k.T}});
    const int64_t n = k.R * k.T;
    const auto rew = normal(rng, n, 0.1f), val = normal(rng, n, 1);
    const auto mask = prefix_mask(rng, k.R, k.T, 1);
    const auto mask8 = to_u8(mask);
    auto d_r = up(rew); auto d_v = up(val); auto d_m = up(mask); auto d_m8 = up(mask8);
    for (bool whiten : {false, true}) {
      const bool u8 = whiten;
      Row& row = c.begin(std::string(whiten ? "whiten" : "raw") + (u8 ? " u8" : ""), shape, k.cls);
      vector<float> adv(n), ret(n);
      GaeArgs a{};
      a.advantages = adv.data();
      a.returns = ret.data();
      a.rewards = rew.data();
      a.values = val.data();
      a.mask = mask_ptr(u8, mask, mask8);
      a.mask_u8 = u8;
      a.T = k.T;
      a.gamma = 0.99;
      a.lambda = 0.95;
      a.whiten = whiten;
      cpu::gae_cpu(a, k.R);
      auto d_adv = dev_zeros<float>(n), d_ret = dev_zeros<float>(n);
      GaeArgs g = a;  // the same settings, on the device buffers
      g.advantages = d_adv.p();
      g.returns = d_ret.p();
      g.rewards = d_r.p();
      g.values = d_v.p();
      g.mask = mask_ptr(u8, d_m, d_m8);
      g.R = k.R;
      cuda::gae_cuda(g);
      c.compare(row, "advantages", d_adv.get(), adv, {1e-5, 1e-6});
      c.compare(row, "returns", d_ret.get(), ret, {1e-5, 1e-6});
      c.time(row, [&] { cuda::gae_cuda(g); }, 0, 20.0 * n, Peak::hbm);
    }
    c.end_case();
  }
}

// ---- group advantages (GRPO std / none, RLOO) -----------------------------------------------

void check_group_advantage(Ctx& c) {
  struct K { int64_t R, G; const char* cls; };
  const K cases[] = {{6, 3, "tiny"}, {1, 1, "odd"}, {2, 2, "odd"}, {5000, 8, "odd"}, {65536, 16, "realistic"},
                     {1, 1, "sanitize"}, {2, 2, "sanitize"}, {5000, 8, "sanitize"}};
  struct M { const char* name; bool std_, unbiased, loo; };
  const M modes[] = {{"std unbiased", true, true, false}, {"std biased", true, false, false}, {"none", false, false, false}, {"rloo", false, false, true}};
  int seed = 1400;
  for (const auto& k : cases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"R", k.R}, {"G", k.G}});
    auto rew = uniform(rng, k.R, 0, 1);
    for (int64_t i = 0; i + 1 < k.R; i += 16) rew[i + 1] = rew[i];  // some ties
    auto ids = group_ids(k.R, k.G);
    for (int64_t i = k.R - 1; i > 0; --i) std::swap(ids[i], ids[rng.below(i + 1)]);  // groups interleaved
    auto d_r = up(rew); auto d_ids = up(ids);
    for (const auto& md : modes) {
      if (md.loo && (k.G < 2 || k.R % k.G != 0)) continue;  // RLOO rejects singleton groups
      Row& row = c.begin(md.name, shape, k.cls);
      vector<float> adv(k.R);
      GroupAdvantageArgs a{};
      a.advantages = adv.data();
      a.rewards = rew.data();
      a.group_ids = ids.data();
      a.scale_by_std = md.std_;
      a.unbiased = md.unbiased;
      a.eps = 1e-6;
      a.leave_one_out = md.loo;
      cpu::group_advantage_cpu(a, k.R);
      auto d_adv = dev_zeros<float>(k.R);
      GroupAdvantageArgs g = a;  // the same settings, on the device buffers
      g.advantages = d_adv.p();
      g.rewards = d_r.p();
      g.group_ids = d_ids.p();
      g.R = k.R;
      cuda::group_advantage_cuda(g);
      c.compare(row, "advantages", d_adv.get(), adv, {1e-5, 1e-6});
      c.time(row, [&] { cuda::group_advantage_cuda(g); }, 0, 12.0 * k.R, Peak::hbm);
    }
    c.end_case();
  }
}

// ---- PRL advantages -------------------------------------------------------------------------

void check_prl_advantage(Ctx& c) {
  int seed = 1500;
  for (const auto& k : kTokenCases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"R", k.R}, {"T", k.T}});
    const int64_t n = k.R * k.T;
    const auto outcome = normal(rng, k.R, 1);
    const auto old = uniform(rng, n, -3, 0), ref = uniform(rng, n, -3, 0);
    const auto mask = prefix_mask(rng, k.R, k.T, 0);
    const auto mask8 = to_u8(mask);
    vector<uint8_t> ends(n);
    for (auto& e : ends) e = rng.uniform() < 0.08;
    auto d_o = up(outcome); auto d_old = up(old); auto d_ref = up(ref); auto d_m = up(mask); auto d_m8 = up(mask8); auto d_e = up(ends);
    struct V { PrlMode mode; bool next, u8; const char* name; };
    const V variants[] = {{PrlMode::step, false, false, "step inclusive"}, {PrlMode::step, true, true, "step next_step u8"},
                          {PrlMode::token, false, false, "token"}};
    for (const auto& v : variants) {
      Row& row = c.begin(v.name, shape, k.cls);
      vector<float> adv(n);
      PrlAdvantageArgs a{};
      a.advantages = adv.data();
      a.outcome_advantages = outcome.data();
      a.old_logprobs = old.data();
      a.ref_logprobs = ref.data();
      a.mask = mask_ptr(v.u8, mask, mask8);
      a.mask_u8 = v.u8;
      a.step_ends = v.mode == PrlMode::step ? ends.data() : nullptr;
      a.T = k.T;
      a.eta = 0.5;
      a.mode = v.mode;
      a.next_step = v.next;
      cpu::prl_advantage_cpu(a, k.R);
      auto d_adv = dev_zeros<float>(n);
      PrlAdvantageArgs g = a;  // the same settings, on the device buffers
      g.advantages = d_adv.p();
      g.outcome_advantages = d_o.p();
      g.old_logprobs = d_old.p();
      g.ref_logprobs = d_ref.p();
      g.mask = mask_ptr(v.u8, d_m, d_m8);
      g.step_ends = v.mode == PrlMode::step ? d_e.p() : nullptr;
      g.R = k.R;
      cuda::prl_advantage_cuda(g);
      // S is a reverse sum over up to T log-prob differences: its error grows with T.
      c.compare(row, "advantages", d_adv.get(), adv, scaled(adv, 1e-4, 1e-6));
      c.time(row, [&] { cuda::prl_advantage_cuda(g); }, 0, 17.0 * n, Peak::hbm);
    }
    c.end_case();
  }
}

// ---- PRPO advantages ------------------------------------------------------------------------

void check_prpo_advantage(Ctx& c) {
  int seed = 1600;
  for (const auto& k : kTokenCases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"R", k.R}, {"T", k.T}});
    const int64_t n = k.R * k.T;
    const auto scores = uniform(rng, n, 0, 1), rew = uniform(rng, k.R, 0, 1);
    const auto ids = group_ids(k.R, 4);
    const auto mask = prefix_mask(rng, k.R, k.T, 0);
    const auto mask8 = to_u8(mask);
    auto d_s = up(scores); auto d_r = up(rew); auto d_ids = up(ids); auto d_m = up(mask); auto d_m8 = up(mask8);
    struct V { bool empirical, compat, u8; const char* name; };
    const V variants[] = {{false, false, false, "fixed prior"}, {true, false, true, "empirical u8"}, {true, true, false, "empirical compat"}};
    for (const auto& v : variants) {
      Row& row = c.begin(v.name, shape, k.cls);
      vector<float> adv(n);
      PrpoAdvantageArgs a{};
      a.advantages = adv.data();
      a.token_scores = scores.data();
      a.rewards = rew.data();
      a.group_ids = ids.data();
      a.mask = mask_ptr(v.u8, mask, mask8);
      a.mask_u8 = v.u8;
      a.T = k.T;
      a.empirical = v.empirical;
      a.mu0 = 0.5;
      a.sigma0 = 0.25;
      a.eps = 1e-6;
      a.compat = v.compat;
      cpu::prpo_advantage_cpu(a, k.R);
      auto d_adv = dev_zeros<float>(n);
      PrpoAdvantageArgs g = a;  // the same settings, on the device buffers
      g.advantages = d_adv.p();
      g.token_scores = d_s.p();
      g.rewards = d_r.p();
      g.group_ids = d_ids.p();
      g.mask = mask_ptr(v.u8, d_m, d_m8);
      g.R = k.R;
      cuda::prpo_advantage_cuda(g);
      c.compare(row, "advantages", d_adv.get(), adv, {1e-5, 1e-6});
      c.time(row, [&] { cuda::prpo_advantage_cuda(g); }, 0, 13.0 * n, Peak::hbm);
    }
    c.end_case();
  }
}

// ---- process-supervised GRPO ----------------------------------------------------------------

void check_process_grpo(Ctx& c) {
  int seed = 1700;
  for (const auto& k : kTokenCases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"R", k.R}, {"T", k.T}});
    const int64_t n = k.R * k.T;
    const auto mask = prefix_mask(rng, k.R, k.T, 0);
    const auto mask8 = to_u8(mask);
    // Steps: per row up to 12 distinct increasing ends inside its valid prefix.
    vector<int32_t> off(k.R + 1, 0), ends;
    for (int64_t i = 0; i < k.R; ++i) {
      int64_t L = 0;
      while (L < k.T && mask[i * k.T + L] != 0.0f) ++L;
      vector<int32_t> e;
      const int64_t want = L == 0 ? 0 : rng.below(std::min<int64_t>(L, 12) + 1);
      for (int64_t s = 0; s < want; ++s) e.push_back(static_cast<int32_t>(rng.below(L)));
      std::sort(e.begin(), e.end());
      e.erase(std::unique(e.begin(), e.end()), e.end());
      ends.insert(ends.end(), e.begin(), e.end());
      off[i + 1] = static_cast<int32_t>(ends.size());
    }
    const int64_t S = static_cast<int64_t>(ends.size());
    const auto step_rewards = normal(rng, S, 1);
    const auto ids = group_ids(k.R, 4);
    auto d_sr = up(step_rewards); auto d_e = up(ends); auto d_off = up(off); auto d_ids = up(ids); auto d_m = up(mask); auto d_m8 = up(mask8);
    for (bool u8 : {false, true}) {
      Row& row = c.begin(std::string("advantages") + (u8 ? " u8" : ""), shape + " S=" + std::to_string(S), k.cls);
      vector<float> adv(n);
      ProcessGrpoAdvantageArgs a{};
      a.advantages = adv.data();
      a.step_rewards = step_rewards.data();
      a.step_ends = ends.data();
      a.step_offsets = off.data();
      a.group_ids = ids.data();
      a.mask = mask_ptr(u8, mask, mask8);
      a.mask_u8 = u8;
      a.T = k.T;
      a.S = S;
      a.eps = 1e-6;
      cpu::process_grpo_advantage_cpu(a, k.R);
      auto d_adv = dev_zeros<float>(n);
      ProcessGrpoAdvantageArgs g = a;  // the same settings, on the device buffers
      g.advantages = d_adv.p();
      g.step_rewards = d_sr.p();
      g.step_ends = d_e.p();
      g.step_offsets = d_off.p();
      g.group_ids = d_ids.p();
      g.mask = mask_ptr(u8, d_m, d_m8);
      g.R = k.R;
      cuda::process_grpo_advantage_cuda(g);
      c.compare(row, "advantages", d_adv.get(), adv, {1e-5, 1e-6});
      c.time(row, [&] { cuda::process_grpo_advantage_cuda(g); }, 0, 8.0 * n, Peak::hbm);
    }
    c.end_case();
  }
}

// ---- REINFORCE++ ----------------------------------------------------------------------------

void check_reinforce(Ctx& c) {
  int seed = 1800;
  for (const auto& k : kTokenCases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const std::string shape = shape_str({{"R", k.R}, {"T", k.T}});
    const int64_t n = k.R * k.T;
    const auto rew = uniform(rng, k.R, 0, 1);
    const auto old = uniform(rng, n, -3, 0), ref = uniform(rng, n, -3, 0);
    const auto ids = group_ids(k.R, 4);
    const auto mask = prefix_mask(rng, k.R, k.T, 1);
    const auto mask8 = to_u8(mask);
    auto d_r = up(rew); auto d_old = up(old); auto d_ref = up(ref); auto d_ids = up(ids); auto d_m = up(mask); auto d_m8 = up(mask8);
    struct V { bool baseline, kl, normalize, u8; double gamma; const char* name; };
    const V variants[] = {{false, true, true, false, 1.0, "kl 0.1 normalize"}, {true, false, true, true, 1.0, "group baseline u8"},
                          {true, true, false, false, 0.99, "baseline kl gamma 0.99"}};
    for (const auto& v : variants) {
      Row& row = c.begin(v.name, shape, k.cls);
      vector<float> adv(n), ret(n);
      ReinforceAdvantageArgs a{};
      a.advantages = adv.data();
      a.returns = ret.data();
      a.rewards = rew.data();
      a.group_ids = v.baseline ? ids.data() : nullptr;
      a.old_logprobs = v.kl ? old.data() : nullptr;
      a.ref_logprobs = v.kl ? ref.data() : nullptr;
      a.mask = mask_ptr(v.u8, mask, mask8);
      a.mask_u8 = v.u8;
      a.T = k.T;
      a.kl_coef = v.kl ? 0.1 : 0.0;
      a.gamma = v.gamma;
      a.normalize = v.normalize;
      cpu::reinforce_advantage_cpu(a, k.R);
      auto d_adv = dev_zeros<float>(n), d_ret = dev_zeros<float>(n);
      ReinforceAdvantageArgs g = a;  // the same settings, on the device buffers
      g.advantages = d_adv.p();
      g.returns = d_ret.p();
      g.rewards = d_r.p();
      g.group_ids = v.baseline ? d_ids.p() : nullptr;
      g.old_logprobs = v.kl ? d_old.p() : nullptr;
      g.ref_logprobs = v.kl ? d_ref.p() : nullptr;
      g.mask = mask_ptr(v.u8, d_m, d_m8);
      g.R = k.R;
      cuda::reinforce_advantage_cuda(g);
      c.compare(row, "advantages", d_adv.get(), adv, scaled(adv, 1e-4, 1e-6));
      c.compare(row, "returns", d_ret.get(), ret, scaled(ret, 1e-4, 1e-6));
      c.time(row, [&] { cuda::reinforce_advantage_cuda(g); }, 0, 20.0 * n, Peak::hbm);
    }
    c.end_case();
  }
}

// ---- step-score rewards: weibull_reward, prm_score ------------------------------------------

struct RS {
  int64_t R, max_steps;
  const char* cls;
};
const RS kStepCases[] = {{3, 4, "tiny"}, {1, 0, "odd"}, {1001, 17, "odd"}, {65536, 24, "realistic"}, {1001, 17, "sanitize"}};

vector<float> step_scores(Rng& rng, int64_t S) {
  auto s = uniform(rng, S, 0, 1);
  for (int64_t i = 0; i < S; i += 13) s[i] = (i / 13) % 2 ? 1.0f : 0.0f;  // the ends of [0, 1]
  return s;
}

void check_weibull_reward(Ctx& c) {
  int seed = 1900;
  for (const auto& k : kStepCases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const auto off = offsets(rng, k.R, k.max_steps);
    const int64_t S = off[k.R];
    const std::string shape = shape_str({{"R", k.R}, {"S", S}});
    const auto scores = step_scores(rng, S);
    auto d_s = up(scores); auto d_off = up(off);
    const std::pair<const char*, RewardShaping> shapings[] = {
        {"weibull", RewardShaping::weibull}, {"pspo_ff", RewardShaping::pspo_ff}, {"linear", RewardShaping::linear}};
    const std::pair<const char*, StepAggregate> aggs[] = {
        {"geomean", StepAggregate::geomean}, {"product", StepAggregate::product}, {"min", StepAggregate::min}, {"last", StepAggregate::last}};
    for (const auto& [sname, shaping] : shapings)
      for (const auto& [aname, agg] : aggs) {
        Row& row = c.begin(std::string(sname) + " " + aname, shape, k.cls);
        vector<float> out(k.R);
        WeibullRewardArgs a{};
        a.rewards = out.data();
        a.step_scores = scores.data();
        a.step_offsets = off.data();
        a.shaping = shaping;
        a.aggregate = agg;
        a.k = 2.0;
        a.lambda = 8.0;
        a.peak = 1.0;
        a.min_steps = 2;
        cpu::weibull_reward_cpu(a, k.R);
        auto d_out = dev_zeros<float>(k.R);
        WeibullRewardArgs g = a;  // the same settings, on the device buffers
        g.rewards = d_out.p();
        g.step_scores = d_s.p();
        g.step_offsets = d_off.p();
        g.R = k.R;
        g.S = S;
        cuda::weibull_reward_cuda(g);
        c.compare(row, "rewards", d_out.get(), out, {1e-5, 1e-7});
        c.time(row, [&] { cuda::weibull_reward_cuda(g); }, 0, 4.0 * (S + 2 * k.R), Peak::hbm);
      }
    c.end_case();
  }
}

void check_prm_score(Ctx& c) {
  int seed = 2000;
  for (const auto& k : kStepCases) {
    if (!c.want(k.cls)) continue;
    Rng rng(seed++);
    const auto off = offsets(rng, k.R, k.max_steps);
    const int64_t S = off[k.R];
    const std::string shape = shape_str({{"R", k.R}, {"S", S}});
    const auto scores = step_scores(rng, S);
    auto d_s = up(scores); auto d_off = up(off);
    const std::pair<const char*, StepAggregate> aggs[] = {
        {"geomean", StepAggregate::geomean}, {"product", StepAggregate::product}, {"min", StepAggregate::min}, {"last", StepAggregate::last}};
    for (const auto& [aname, agg] : aggs) {
      Row& row = c.begin(aname, shape, k.cls);
      vector<float> out(k.R);
      PrmScoreArgs a{};
      a.scores = out.data();
      a.step_scores = scores.data();
      a.step_offsets = off.data();
      a.aggregate = agg;
      cpu::prm_score_cpu(a, k.R);
      auto d_out = dev_zeros<float>(k.R);
      PrmScoreArgs g = a;  // the same settings, on the device buffers
      g.scores = d_out.p();
      g.step_scores = d_s.p();
      g.step_offsets = d_off.p();
      g.R = k.R;
      g.S = S;
      cuda::prm_score_cuda(g);
      c.compare(row, "scores", d_out.get(), out, {1e-5, 1e-7});  // rows without steps: NaN on both
      c.time(row, [&] { cuda::prm_score_cuda(g); }, 0, 4.0 * (S + 2 * k.R), Peak::hbm);
    }
    c.end_case();
  }
}

}  // namespace

std::vector<FamilyEntry> rl_families() {
  return {{"policy_loss", check_policy_loss},
          {"kl_penalty", check_kl_penalty},
          {"entropy_segments", check_entropy_segments},
          {"gae", check_gae},
          {"group_advantage", check_group_advantage},
          {"prl_advantage", check_prl_advantage},
          {"prpo_advantage", check_prpo_advantage},
          {"process_grpo_advantage", check_process_grpo},
          {"reinforce_advantage", check_reinforce},
          {"weibull_reward", check_weibull_reward},
          {"prm_score", check_prm_score}};
}

}  // namespace steprl::check
