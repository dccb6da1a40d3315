// check.cc: main of the check_gpu harness (tools/check_gpu/README.md): parses the mode, runs every
// family's check, prints one line per row, writes report.json and report.md into the run folder
// and exits non-zero when any row failed.
//   check_gpu [--mode full|reduced|sanitize] [--only fam,fam] [--out DIR] [--no-time] [--list] [--perturb]
//   full      tiny, odd and realistic (Qwen2.5-0.5B-sized) shapes; realistic rows timed
//   reduced   tiny and odd shapes, untimed (what `npm test` runs on the simulator)
//   sanitize  one small case per family (the sanitizer shapes), untimed, the device cache
//             trimmed after every case; run under compute-sanitizer by scripts/check-gpu.sh
//   --perturb shifts the first GPU element of every compared output, so every row must FAIL: the
//             harness's own test (test/tools/check_gpu.test.ts) that a mismatch is caught
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "check.h"

namespace steprl::check {

std::vector<float> uniform(Rng& rng, size_t n, float lo, float hi) {
  std::vector<float> v(n);
  for (auto& x : v) x = rng.uniform(lo, hi);
  return v;
}
std::vector<float> normal(Rng& rng, size_t n, float sd) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.normal() * sd);
  return v;
}
std::vector<int32_t> integers(Rng& rng, size_t n, int64_t below) {
  std::vector<int32_t> v(n);
  for (auto& x : v) x = static_cast<int32_t>(rng.below(below));
  return v;
}
std::vector<float> prefix_mask(Rng& rng, int64_t R, int64_t T, int64_t min_len) {
  std::vector<float> m(static_cast<size_t>(R * T), 0.0f);
  for (int64_t i = 0; i < R; ++i) {
    const int64_t len = min_len + rng.below(T - min_len + 1);
    for (int64_t t = 0; t < len; ++t) m[static_cast<size_t>(i * T + t)] = 1.0f;
  }
  return m;
}
std::vector<uint8_t> to_u8(const std::vector<float>& mask) {
  std::vector<uint8_t> u(mask.size());
  for (size_t i = 0; i < mask.size(); ++i) u[i] = mask[i] != 0.0f;
  return u;
}
uint16_t bf16_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
float bf16_value(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

std::string shape_str(std::initializer_list<std::pair<const char*, int64_t>> dims) {
  std::string s;
  for (const auto& [name, value] : dims) s += (s.empty() ? "" : " ") + std::string(name) + "=" + std::to_string(value);
  return s;
}

Tol scaled(const std::vector<float>& ref, double rtol, double fraction) {
  double m = 0;
  for (float x : ref)
    if (std::isfinite(x)) m = std::max(m, static_cast<double>(std::fabs(x)));
  return {rtol, std::max(fraction * m, 1e-30)};
}

Row& Ctx::begin(const std::string& op, const std::string& shape, const std::string& cls) {
  rows.push_back(Row{});
  Row& r = rows.back();
  r.family = family;
  r.op = op;
  r.shape = shape;
  r.cls = cls;
  return r;
}

namespace {
void note_worst(Row& row, double ratio, const std::string& where) {
  if (ratio > row.worst || (std::isnan(ratio) && !std::isnan(row.worst))) {
    row.worst = ratio;
    row.worst_at = where;
  }
  if (!(ratio <= 1.0)) row.pass = false;
}
}  // namespace

void Ctx::compare(Row& row, const std::string& output, const std::vector<float>& gpu_in, const std::vector<float>& cpu,
                  Tol tol) {
  std::vector<float> gpu = gpu_in;
  if (perturb && !gpu.empty())  // must fail (the harness's own test)
    gpu[0] = std::isfinite(gpu[0]) ? gpu[0] + std::max(1e-3f, 1e-2f * std::fabs(gpu[0])) : 0.5f;
  const bool first = row.elements == 0;
  const double worst_before = row.worst;
  if (gpu.size() != cpu.size()) {
    row.pass = false;
    row.note += output + ": " + std::to_string(gpu.size()) + " GPU vs " + std::to_string(cpu.size()) + " CPU elements; ";
    return;
  }
  row.elements += static_cast<int64_t>(gpu.size());
  for (size_t i = 0; i < gpu.size(); ++i) {
    const double g = gpu[i], c = cpu[i];
    double ratio;
    if (std::isnan(c) || std::isinf(c) || std::isnan(g) || std::isinf(g)) {
      // Non-finite values must agree exactly (NaN with NaN, inf with the same inf).
      const bool same = (std::isnan(c) && std::isnan(g)) || g == c;
      ratio = same ? 0.0 : INFINITY;
      if (!same) {
        row.max_abs = INFINITY;
        row.max_rel = INFINITY;
      }
    } else {
      const double diff = std::fabs(g - c);
      row.max_abs = std::max(row.max_abs, diff);
      if (c != 0.0) row.max_rel = std::max(row.max_rel, diff / std::fabs(c));
      ratio = diff / (tol.atol + tol.rtol * std::fabs(c));
      if (diff == 0.0) ratio = 0.0;
    }
    note_worst(row, ratio, output + "[" + std::to_string(i) + "]");
  }
  // The row shows the tolerance of the output that set its worst ratio.
  if (first || row.worst > worst_before) row.tol = tol;
}

void Ctx::compare_exact(Row& row, const std::string& output, const std::vector<int32_t>& gpu_in, const std::vector<int32_t>& cpu) {
  std::vector<int32_t> gpu = gpu_in;
  if (perturb && !gpu.empty()) gpu[0] ^= 1;
  if (gpu.size() != cpu.size()) {
    row.pass = false;
    row.note += output + ": size differs; ";
    return;
  }
  row.elements += static_cast<int64_t>(gpu.size());
  int64_t differ = 0;
  for (size_t i = 0; i < gpu.size(); ++i)
    if (gpu[i] != cpu[i]) {
      if (differ == 0) note_worst(row, INFINITY, output + "[" + std::to_string(i) + "] " + std::to_string(gpu[i]) + " vs " + std::to_string(cpu[i]));
      ++differ;
      row.max_abs = std::max(row.max_abs, std::fabs(double(gpu[i]) - double(cpu[i])));
    }
  row.note += output + " exact" + (differ ? " (" + std::to_string(differ) + " differ)" : "") + "; ";
  if (differ) row.pass = false;
}

void Ctx::compare_scalar(Row& row, const std::string& output, double gpu, double cpu, Tol tol) {
  // Scalars keep the element tolerance of the row's arrays when it has them.
  compare(row, output, {static_cast<float>(gpu)}, {static_cast<float>(cpu)}, tol);
}

void Ctx::time(Row& row, const std::function<void()>& fn, double flops, double bytes, Peak peak) {
  if (!timing || row.cls != "realistic") return;
  try {
    row.ms = time_ms(fn, 50.0);
  } catch (const std::exception& e) {
    row.pass = false;
    row.note += std::string("timing failed: ") + e.what() + "; ";
    return;
  }
  const double s = row.ms * 1e-3;
  if (flops > 0) {
    row.rate = flops / s * 1e-12;
    row.unit = "TFLOP/s";
  } else if (bytes > 0) {
    row.rate = bytes / s * 1e-9;
    row.unit = "GB/s";
  }
  switch (peak) {
    case Peak::fp32_fma: row.peak = facts.fp32_tflops; row.peak_name = "fp32 FMA"; break;
    case Peak::tensor_bf16: row.peak = facts.bf16_tflops; row.peak_name = "bf16 tensor"; break;
    case Peak::hbm: row.peak = facts.hbm_gbps; row.peak_name = "HBM"; break;
    case Peak::none: break;
  }
}

void Ctx::end_case() {
  if (trim) cuda::trim_cache();
}

}  // namespace steprl::check

namespace {

using namespace steprl::check;

std::string fmt(double x, const char* f = "%.3g") {
  if (std::isnan(x)) return "";
  char b[64];
  std::snprintf(b, sizeof b, f, x);
  return b;
}
std::string json_num(double x) {
  if (std::isnan(x)) return "null";
  if (std::isinf(x)) return x > 0 ? "\"inf\"" : "\"-inf\"";
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", x);
  return b;
}
std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') o += '\\', o += ch;
    else if (ch == '\n') o += "\\n";
    else if (static_cast<unsigned char>(ch) < 0x20) o += ' ';
    else o += ch;
  }
  return o + "\"";
}
std::string md_cell(std::string s) {
  for (auto& ch : s)
    if (ch == '|' || ch == '\n') ch = ' ';
  return s;
}

std::string utc_stamp(const char* f) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char b[64];
  std::strftime(b, sizeof b, f, &tm);
  return b;
}

int usage(const char* why) {
  std::fprintf(stderr, "check_gpu: %s\nusage: check_gpu [--mode full|reduced|sanitize] [--only fam,fam] [--out DIR] [--no-time] [--list] [--perturb]\n", why);
  return 2;
}

// report.json and report.md in out_dir; rewritten after every family, so a run stopped by a time
// limit keeps what it had checked (`progress` then says how far it got).
void write_reports(const std::string& out_dir, const std::string& mode, const Ctx& ctx, double total_s,
                   const std::string& progress) {
  const DeviceFacts& f = ctx.facts;
  const int64_t failed = std::count_if(ctx.rows.begin(), ctx.rows.end(), [](const Row& r) { return !r.pass; });
  const std::string json_path = out_dir + "/report.json", md_path = out_dir + "/report.md";
  {
    std::ofstream j(json_path + ".tmp");
    j << "{\n  \"tool\": \"check_gpu\",\n  \"mode\": " << json_str(mode) << ",\n  \"date\": "
      << json_str(utc_stamp("%Y-%m-%dT%H:%M:%SZ")) << ",\n  \"device\": {\"name\": " << json_str(f.name)
      << ", \"compute_capability\": \"" << f.major << "." << f.minor << "\", \"sms\": " << f.sms
      << ", \"simulated\": " << (f.simulated ? "true" : "false") << ", \"clock_ghz\": " << json_num(f.clock_ghz)
      << ", \"fp32_tflops\": " << json_num(f.fp32_tflops) << ", \"bf16_tflops\": " << json_num(f.bf16_tflops)
      << ", \"hbm_gbps\": " << json_num(f.hbm_gbps) << "},\n  \"seconds\": " << json_num(total_s)
      << ",\n  \"incomplete\": " << (progress.empty() ? std::string("null") : json_str(progress)) << ",\n  \"failed\": " << failed << ",\n  \"rows\": [\n";
    for (size_t i = 0; i < ctx.rows.size(); ++i) {
      const Row& r = ctx.rows[i];
      j << "    {\"family\": " << json_str(r.family) << ", \"op\": " << json_str(r.op) << ", \"shape\": " << json_str(r.shape)
        << ", \"class\": " << json_str(r.cls) << ", \"pass\": " << (r.pass ? "true" : "false")
        << ", \"elements\": " << r.elements << ", \"max_abs\": " << json_num(r.max_abs) << ", \"max_rel\": " << json_num(r.max_rel)
        << ", \"worst\": " << json_num(r.worst) << ", \"worst_at\": " << json_str(r.worst_at) << ", \"rtol\": " << json_num(r.tol.rtol)
        << ", \"atol\": " << json_num(r.tol.atol) << ", \"ms\": " << json_num(r.ms) << ", \"rate\": " << json_num(r.rate)
        << ", \"unit\": " << json_str(r.unit) << ", \"peak\": " << json_num(r.peak) << ", \"peak_name\": " << json_str(r.peak_name)
        << ", \"note\": " << json_str(r.note) << "}" << (i + 1 < ctx.rows.size() ? "," : "") << "\n";
    }
    j << "  ]\n}\n";
  }
  {
    std::ofstream m(md_path + ".tmp");
    m << "## check_gpu " << mode << " — " << f.name << " (sm_" << f.major << f.minor << ", " << f.sms << " SMs), "
      << utc_stamp("%Y-%m-%d %H:%M UTC") << "\n\n";
    if (f.simulated)
      m << "SIMT simulator (cuda/sim): GPU kernels executed on the CPU; correctness only.\n\n";
    else
      m << "Peaks from the device clocks: fp32 FMA " << fmt(f.fp32_tflops, "%.1f") << " TFLOP/s, bf16 tensor (dense) "
        << fmt(f.bf16_tflops, "%.0f") << " TFLOP/s, memory " << fmt(f.hbm_gbps, "%.0f") << " GB/s.\n\n";
    m << "Pass: every element has |gpu - cpu| <= atol + rtol |cpu| (\"worst\" is the largest ratio of the two sides; "
         "integer outputs must be equal).\n\n";
    m << "| family | op | class | shape | max abs err | max rel err | rtol / atol | worst | GPU ms | rate | % of peak | |\n";
    m << "|---|---|---|---|---:|---:|---|---:|---:|---:|---:|---|\n";
    for (const Row& r : ctx.rows) {
      const std::string pct = std::isnan(r.rate) || std::isnan(r.peak) ? "" : fmt(100.0 * r.rate / r.peak, "%.1f") + "% " + r.peak_name;
      m << "| " << r.family << " | " << md_cell(r.op) << " | " << r.cls << " | " << r.shape << " | " << fmt(r.max_abs) << " | "
        << fmt(r.max_rel) << " | " << (r.tol.rtol == 0 && r.tol.atol == 0 ? "exact" : fmt(r.tol.rtol, "%.0e") + " / " + fmt(r.tol.atol, "%.0e"))
        << " | " << fmt(r.worst, "%.3f") << " | " << fmt(r.ms, "%.3f") << " | "
        << (std::isnan(r.rate) ? "" : fmt(r.rate, "%.1f") + " " + r.unit) << " | " << pct << " | "
        << (r.pass ? "ok" : "**FAIL** " + md_cell(r.worst_at + " " + r.note)) << " |\n";
    }
    m << "\n" << ctx.rows.size() << " rows, " << failed << " failed, " << fmt(total_s, "%.1f") << " s"
      << (progress.empty() ? "." : " (incomplete: " + progress + ").") << "\n";
  }
  // Renamed into place whole: a run killed while writing keeps the previous complete files.
  std::filesystem::rename(json_path + ".tmp", json_path);
  std::filesystem::rename(md_path + ".tmp", md_path);
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "full", out_dir, only;
  bool no_time = false, list = false, perturb = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(std::string(name) + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--mode") mode = value("--mode");
      else if (a == "--out") out_dir = value("--out");
      else if (a == "--only") only = value("--only");
      else if (a == "--no-time") no_time = true;
      else if (a == "--list") list = true;
      else if (a == "--perturb") perturb = true;
      else return usage(("unknown argument " + a).c_str());
    } catch (const std::exception& e) {
      return usage(e.what());
    }
  }
  std::vector<FamilyEntry> families = model_families();
  for (const auto& f : rl_families()) families.push_back(f);
  if (list) {
    for (const auto& f : families) std::printf("%s\n", f.name);
    return 0;
  }
  std::vector<std::string> wanted;
  for (std::stringstream ss(only); ss.good();) {
    std::string name;
    std::getline(ss, name, ',');
    if (name.empty()) continue;
    if (std::none_of(families.begin(), families.end(), [&](const FamilyEntry& f) { return name == f.name; }))
      return usage(("no family named " + name + " (--list names them)").c_str());
    wanted.push_back(name);
  }

  Ctx ctx;
  ctx.perturb = perturb;
  if (mode == "full") {
    ctx.realistic = true;
    ctx.timing = !no_time;
  } else if (mode == "reduced") {
  } else if (mode == "sanitize") {
    ctx.tiny = ctx.odd = false;
    ctx.sanitize = true;
    ctx.trim = true;
  } else {
    return usage(("--mode must be full, reduced or sanitize, not " + mode).c_str());
  }

  try {
    ctx.facts = device_facts();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "check_gpu: no usable CUDA device: %s\n", e.what());
    return 3;
  }
  const DeviceFacts& f = ctx.facts;
  std::printf("check_gpu: %s mode on %s (sm_%d%d, %d SMs)%s\n", mode.c_str(), f.name.c_str(), f.major, f.minor, f.sms,
              f.simulated ? " — the SIMT simulator: correctness only, times say nothing about a GPU" : "");
  if (!f.simulated)
    std::printf("check_gpu: peaks from the device's clocks: fp32 FMA %s TFLOP/s, bf16 tensor (dense) %s TFLOP/s, memory %s GB/s\n",
                fmt(f.fp32_tflops, "%.1f").c_str(), fmt(f.bf16_tflops, "%.0f").c_str(), fmt(f.hbm_gbps, "%.0f").c_str());

  if (out_dir.empty()) out_dir = "runs/check-gpu-" + utc_stamp("%Y%m%d-%H%M%S") + (mode == "full" ? "" : "-" + mode);
  std::filesystem::create_directories(out_dir);
  const std::string json_path = out_dir + "/report.json", md_path = out_dir + "/report.md";
  const size_t selected = wanted.empty() ? families.size() : wanted.size();
  size_t done = 0;
  const auto t0 = std::chrono::steady_clock::now();
  int family_errors = 0;
  for (const auto& fam : families) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), fam.name) == wanted.end()) continue;
    ctx.family = fam.name;
    const size_t first = ctx.rows.size();
    const auto f0 = std::chrono::steady_clock::now();
    try {
      fam.run(ctx);
    } catch (const std::exception& e) {
      // A kernel fault or a thrown DeviceError: the family fails (on a GPU the context may now be
      // poisoned, so later families can fail too: the first failure is the one to read).
      Row& r = ctx.begin("(error)", "", "");
      r.pass = false;
      r.note = e.what();
      ++family_errors;
    }
    ctx.end_case();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - f0).count();
    for (size_t i = first; i < ctx.rows.size(); ++i) {
      const Row& r = ctx.rows[i];
      std::printf("%-4s %-22s %-28s %-9s %-44s max|d| %-9s worst %-8s%s%s %s\n", r.pass ? "ok" : "FAIL", r.family.c_str(),
                  r.op.c_str(), r.cls.c_str(), r.shape.c_str(), fmt(r.max_abs).c_str(), fmt(r.worst, "%.3f").c_str(),
                  std::isnan(r.ms) ? "" : ("  " + fmt(r.ms, "%.3f") + " ms").c_str(),
                  std::isnan(r.rate) ? "" : ("  " + fmt(r.rate, "%.1f") + " " + r.unit).c_str(), r.note.c_str());
    }
    std::printf("     %s: %.1f s\n", fam.name, secs);
    std::fflush(stdout);
    if (++done < selected)
      write_reports(out_dir, mode, ctx, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                    std::to_string(done) + " of " + std::to_string(selected) + " families checked");
  }
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t failed = std::count_if(ctx.rows.begin(), ctx.rows.end(), [](const Row& r) { return !r.pass; });

  write_reports(out_dir, mode, ctx, total_s, "");
  std::printf("check_gpu: %zu rows, %lld failed, %.1f s%s\n", ctx.rows.size(), static_cast<long long>(failed), total_s,
              family_errors ? (", " + std::to_string(family_errors) + " families stopped by an error").c_str() : "");
  std::printf("check_gpu: wrote %s and %s\n", json_path.c_str(), md_path.c_str());
  return failed == 0 ? 0 : 1;
}
