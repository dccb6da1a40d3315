#!/usr/bin/env bash
# check-gpu.sh: `npm run check:gpu` — one unattended check of the CUDA kernels on the first NVIDIA
# GPU it meets, needing only bash, CMake and the CUDA toolkit (no Node.js, no network):
#   1. build    tools/check_gpu (CMake + nvcc for this GPU's arch) from the repository's own sources
#   2. kernels  check_gpu --mode full: every kernel family against the CPU kernels of native/cpu on
#               tiny, odd and Qwen2.5-0.5B-sized shapes; realistic rows timed with CUDA events
#   3. sanitizers (when compute-sanitizer is present): check_gpu --mode sanitize (one small case per
#               family: the issue's shapes) under memcheck, racecheck, synccheck and initcheck
#   4. jest     (when node and the repository's node_modules are present) the CUDA addon
#               (npm run build:cuda) and the jest device suites on the GPU
#               (STEPRL_BACKEND=cuda STEPRL_TEST_DEVICES=cuda)
# Without a GPU (no nvidia-smi, or none listed) or with --sim it builds the same harness against
# the SIMT simulator (cuda/sim) and runs its reduced mode (tiny and odd shapes, untimed), then the
# sanitizer cases (--mode sanitize) on the simulator, whose own guards stand in for
# compute-sanitizer (out-of-bounds pages and canaries, garbage-filled shared memory, shuffled
# thread order, launch limits; cuda/sim/README.md).
# --plan prints the commands the GPU mode would run on this repository (arch from --arch, else the
# GPU's, else 90; compute-sanitizer and nvcc by name when absent) and runs nothing: the sanitizer
# stage's logic is checked on machines without a GPU (test/tools/check_gpu.test.ts).
# Everything lands in runs/check-gpu-<UTC time>/ (or --out DIR): report.json and report.md (the
# kernel rows, from check_gpu), stages.json and a stage table appended to report.md, and one log
# per stage. Each stage has a time budget (the whole run stays under CHECK_GPU_BUDGET_S, default
# 480 s); a stage that runs out is reported as "timeout", later ones as "skipped (budget)".
# CHECK_GPU_BUILD_S (default 240) caps the build stage alone (a slow machine building the
# simulator flavour from scratch, as npm test may, needs more).
# Exit status: 0 when no stage failed (a mismatch, a sanitizer report, a failed build or test);
# timeouts and skips alone do not fail the run, but are printed.
# --jest-memcheck / --jest-initcheck also run the jest device suites under compute-sanitizer
# memcheck / initcheck (slow: set CHECK_GPU_BUDGET_S to about 1200 for each). They run with
# STEPRL_CUDA_NO_CACHE=1 (cuda/device.cu): the addon's device cache is off, every free is a cudaFree
# and every allocation a cudaMalloc, so initcheck sees a read of uninitialized memory even where a
# cached block would have held an earlier op's bytes, and memcheck a use after free (the harness's
# sanitize mode trims the cache after every case).
# Usage: scripts/check-gpu.sh [--sim] [--plan [--arch N]] [--out DIR] [--no-jest] [--jest-memcheck]
#                             [--jest-initcheck] [--no-sanitizer]
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

sim=0 jest=1 jest_memcheck=0 jest_initcheck=0 sanitizer=1 out="" plan=0 plan_arch=""
usage="usage: scripts/check-gpu.sh [--sim] [--plan [--arch N]] [--out DIR] [--no-jest] [--jest-memcheck] [--jest-initcheck] [--no-sanitizer]"
while [ $# -gt 0 ]; do
  case "$1" in
    --sim) sim=1 ;;
    --plan) plan=1 ;;
    --arch) shift; plan_arch="${1:?--arch needs a compute capability such as 90}" ;;
    --no-jest) jest=0 ;;
    --jest-memcheck) jest_memcheck=1 ;;
    --jest-initcheck) jest_initcheck=1 ;;
    --no-sanitizer) sanitizer=0 ;;
    --out) shift; out="${1:?--out needs a folder}" ;;
    *) echo "check:gpu: unknown argument $1 ($usage)" >&2; exit 2 ;;
  esac
  shift
done

budget="${CHECK_GPU_BUDGET_S:-480}"
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
left() { echo $(( budget - $(date +%s) + start )); }
jobs_n="$(nproc 2>/dev/null || echo 4)"

# ---- what this machine has ----
gpu_name="" arch=""
if [ "$sim" = 0 ] && command -v nvidia-smi >/dev/null 2>&1; then
  line="$(nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader 2>/dev/null | head -n 1)"
  if [ -n "$line" ]; then
    gpu_name="${line%,*}"
    cap="$(echo "${line##*,}" | tr -d ' .')"
    case "$cap" in [0-9][0-9]*) arch="$cap" ;; esac
  else
    gpu_name="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)"
  fi
fi
nvcc="${CUDACXX:-$(command -v nvcc || true)}"
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
# Drivers older than 510 cannot report compute_cap: the toolkit's own device query can ("90").
if [ "$sim" = 0 ] && [ -n "$gpu_name" ] && [ -z "$arch" ] && [ -n "$nvcc" ] && [ -x "$(dirname "$nvcc")/__nvcc_device_query" ]; then
  arch="$("$(dirname "$nvcc")/__nvcc_device_query" 2>/dev/null | tr ',' '\n' | head -n 1 | tr -dc '0-9')"
fi
if [ "$plan" = 1 ]; then  # the GPU mode's commands, whatever this machine has
  sim=0
  arch="${plan_arch:-${arch:-90}}"
  gpu_name="${gpu_name:-(planned GPU)}"
  nvcc="${nvcc:-nvcc}"
fi
[ -z "$arch" ] && sim=1
if [ "$sim" = 0 ] && [ -z "$nvcc" ]; then
  echo "check:gpu: a GPU ($gpu_name) but no nvcc (put the CUDA toolkit's bin on PATH or set CUDACXX): running the simulator instead" >&2
  sim=1
fi
if ! command -v cmake >/dev/null 2>&1; then
  echo "check:gpu: cmake was not found: it builds the harness (apt-get install cmake, or pip install cmake)" >&2
  exit 2
fi

stamp="$(date -u +%Y%m%d-%H%M%S)"
[ -z "$out" ] && out="runs/check-gpu-$stamp$([ "$sim" = 1 ] && echo -sim)"
mkdir -p "$out"
echo "check:gpu: $([ "$sim" = 1 ] && echo "SIMT simulator (no GPU: reduced mode)" || echo "$gpu_name, sm_$arch"), budget ${budget} s, results in $out"

# ---- stages ----
stage_rows=()   # "name|status|seconds|log|note"
failed=0
record() {  # name status seconds log note
  stage_rows+=("$1|$2|$3|$4|$5")
  [ "$2" = "FAIL" ] && failed=1
  [ "$2" = planned ] || printf 'check:gpu: %-22s %-16s %4s s  %s %s\n' "$1" "$2" "$3" "$4" "$5"
}
# run_stage name budget_s log command...: runs with `timeout`, records ok / FAIL / timeout / skipped.
# With --plan it prints the command (and the STEPRL_* / CHECK_* environment it gets) instead.
run_stage() {
  local name="$1" want="$2" log="$3"; shift 3
  if [ "$plan" = 1 ]; then
    local env_shown; env_shown="$(env | grep -E '^(STEPRL|CUDACXX)[A-Z_]*=' | sort | tr '\n' ' ')"
    printf 'check:gpu: plan: %-24s %s%s\n' "$name" "$env_shown" "$*"
    record "$name" "planned" 0 "$log" ""
    return 0
  fi
  local have; have="$(left)"
  if [ "$have" -lt 10 ]; then record "$name" "skipped (budget)" 0 "" ""; return 99; fi
  [ "$want" -gt "$have" ] && want="$have"
  local t0; t0=$(date +%s)
  timeout --kill-after=10 "$want" "$@" > "$out/$log" 2>&1
  local rc=$?
  local secs=$(( $(date +%s) - t0 ))
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then record "$name" "timeout" "$secs" "$log" "after ${want} s"
  elif [ "$rc" = 0 ]; then record "$name" "ok" "$secs" "$log" ""
  else record "$name" "FAIL" "$secs" "$log" "exit $rc"
  fi
  return "$rc"
}

if [ "$sim" = 1 ]; then
  build="build-check-gpu-sim"
  cfg=(-DCHECK_GPU=SIM)
else
  build="build-check-gpu"
  cfg=(-DCHECK_GPU=CUDA "-DCMAKE_CUDA_ARCHITECTURES=$arch" "-DCMAKE_CUDA_COMPILER=$nvcc")
fi
build_ok=0
if run_stage "configure" 60 configure.log cmake -S tools/check_gpu -B "$build" "${cfg[@]}" &&
   run_stage "build" "${CHECK_GPU_BUILD_S:-240}" build.log cmake --build "$build" -j "$jobs_n"; then
  build_ok=1
fi
exe="$build/check_gpu"

if [ "$build_ok" = 1 ]; then
  if [ "$sim" = 1 ]; then
    STEPRL_SIM_ALIGN=16 run_stage "kernels (reduced, sim)" 300 kernels.log "$exe" --mode reduced --out "$out"
  else
    run_stage "kernels (full)" 150 kernels.log "$exe" --mode full --out "$out"
  fi
  [ -f "$out/kernels.log" ] && tail -n 2 "$out/kernels.log" | sed 's/^/  /'

  sanitizer_bin="$(command -v compute-sanitizer || true)"
  [ -z "$sanitizer_bin" ] && [ -n "$nvcc" ] && [ -x "$(dirname "$nvcc")/compute-sanitizer" ] && sanitizer_bin="$(dirname "$nvcc")/compute-sanitizer"
  [ "$plan" = 1 ] && [ -z "$sanitizer_bin" ] && sanitizer_bin=compute-sanitizer
  if [ "$sim" = 1 ]; then
    # The cases compute-sanitizer would get, under the simulator's own guards instead.
    STEPRL_SIM_ALIGN=16 run_stage "sanitize cases (sim)" 300 sanitize-sim.log "$exe" --mode sanitize --out "$out/sanitize-sim"
  elif [ "$sanitizer" = 0 ]; then
    record "sanitizers" "skipped" 0 "" "--no-sanitizer"
  elif [ -z "$sanitizer_bin" ]; then
    record "sanitizers" "skipped" 0 "" "compute-sanitizer not found"
  else
    # --error-exitcode: any report fails the stage; the harness's own mismatches fail it too.
    for tool in memcheck racecheck synccheck initcheck; do
      extra=()
      [ "$tool" = memcheck ] && extra=(--leak-check full)
      [ "$tool" = initcheck ] && extra=(--track-unused-memory no)
      case "$tool" in memcheck) b=60 ;; racecheck) b=90 ;; *) b=45 ;; esac
      run_stage "sanitizer $tool" "$b" "sanitizer-$tool.log" "$sanitizer_bin" --tool "$tool" ${extra[@]+"${extra[@]}"} \
        --error-exitcode 9 --print-limit 50 "$exe" --mode sanitize --out "$out/sanitize-$tool"
    done
  fi
fi

# ---- jest device suites on the GPU (needs Node and the repository's node_modules) ----
if [ "$sim" = 1 ]; then
  record "jest device suites" "skipped" 0 "" "no GPU (npm test runs them on the simulator)"
elif [ "$jest" = 0 ]; then
  record "jest device suites" "skipped" 0 "" "--no-jest"
elif [ "$plan" = 0 ] && ! command -v node >/dev/null 2>&1; then
  record "jest device suites" "skipped" 0 "" "node not found"
elif [ "$plan" = 0 ] && { [ ! -d node_modules/jest ] || [ ! -d node_modules/cmake-js ]; }; then
  record "jest device suites" "skipped" 0 "" "node_modules missing (npm ci needs the network)"
else
  if run_stage "build CUDA addon" 240 build-addon.log env CUDACXX="$nvcc" node node_modules/cmake-js/bin/cmake-js compile \
       --out build-cuda --CDSTEPRL_CUDA=ON "--CDCMAKE_CUDA_ARCHITECTURES=$arch"; then
    suites=()
    for dir in test/ops test/device test/model; do
      [ -d "$dir" ] || continue
      for f in "$dir"/*.test.ts; do grep -q 'util/devices' "$f" && suites+=("$f"); done
    done
    if [ "${#suites[@]}" = 0 ]; then
      record "jest device suites" "skipped" 0 "" "no suite uses test/util/devices.ts"
    else
      STEPRL_BACKEND=cuda STEPRL_TEST_DEVICES=cuda run_stage "jest device suites" 240 jest.log \
        node node_modules/jest/bin/jest.js --runTestsByPath "${suites[@]}"
      # Optional (beyond the 8-minute budget): the same suites under compute-sanitizer memcheck
      # and initcheck (--jest-memcheck, --jest-initcheck).
      for tool in memcheck initcheck; do
        [ "$tool" = memcheck ] && [ "$jest_memcheck" = 0 ] && continue
        [ "$tool" = initcheck ] && [ "$jest_initcheck" = 0 ] && continue
        [ -z "${sanitizer_bin:-}" ] && { record "jest under $tool" "skipped" 0 "" "compute-sanitizer not found"; continue; }
        extra=()
        [ "$tool" = initcheck ] && extra=(--track-unused-memory no)
        STEPRL_BACKEND=cuda STEPRL_TEST_DEVICES=cuda STEPRL_CUDA_NO_CACHE=1 run_stage "jest under $tool" 600 "jest-$tool.log" \
          "$sanitizer_bin" --tool "$tool" ${extra[@]+"${extra[@]}"} --error-exitcode 9 --print-limit 50 \
          node node_modules/jest/bin/jest.js --runInBand --runTestsByPath "${suites[@]}"
      done
    fi
  fi
fi

# ---- stage table ----
{
  echo "["
  n=${#stage_rows[@]}
  for i in "${!stage_rows[@]}"; do
    IFS='|' read -r name status secs log note <<< "${stage_rows[$i]}"
    printf '  {"stage": "%s", "status": "%s", "seconds": %s, "log": "%s", "note": "%s"}%s\n' \
      "$name" "$status" "$secs" "$log" "${note//\"/\'}" "$([ $((i + 1)) -lt "$n" ] && echo ,)"
  done
  echo "]"
} > "$out/stages.json"
{
  echo
  echo "### check:gpu stages ($([ "$sim" = 1 ] && echo "SIMT simulator" || echo "$gpu_name, sm_$arch"), $(elapsed) s of a ${budget} s budget)"
  echo
  echo "| stage | status | seconds | log | note |"
  echo "|---|---|---:|---|---|"
  for row in "${stage_rows[@]}"; do
    IFS='|' read -r name status secs log note <<< "$row"
    echo "| $name | $status | $secs | $log | $note |"
  done
} >> "$out/report.md"
echo "check:gpu: $(elapsed) s; $([ "$failed" = 0 ] && echo "no stage failed" || echo "FAILED (see the logs)")"
written="$out/report.md"
[ -f "$out/report.json" ] && written="$written, $out/report.json (kernel rows)"
echo "check:gpu: wrote $written and $out/stages.json"
exit "$failed"
