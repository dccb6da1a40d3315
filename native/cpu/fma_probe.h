// fma_probe.h: measures this machine's fp32 FMA rate, the yardstick for compute-bound kernels
// (GEMMs, the model step): what the cores can do at the active SIMD level with every pool thread.
#pragma once

#include <cstdint>

namespace steprl::cpu {

// Runs independent FMA chains (enough to cover the FMA latency on two ports) on every pool
// thread for about `milliseconds`, `repeats` times; returns the best GFLOP/s (an FMA is 2 FLOPs).
double probe_fma_peak(double milliseconds, int repeats);

}  // namespace steprl::cpu
