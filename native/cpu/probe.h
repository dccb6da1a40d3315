// probe.h: measures this machine's memory-read bandwidth, the yardstick for memory-bound kernels.
#pragma once

#include <cstdint>

namespace steprl::cpu {

// Reads a `bytes`-sized buffer `repeats` times with all pool threads; returns the best GB/s.
double probe_read_bandwidth(int64_t bytes, int repeats);

}  // namespace steprl::cpu
