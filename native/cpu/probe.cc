// probe.cc: a streaming-read bandwidth probe. Every thread sums 64-bit words of its slice of one
// large buffer (four independent accumulators so the adds never limit the loads); the best of
// several passes is reported, as the benches compare kernels against the best the memory delivers.
#include "probe.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "parallel.h"

namespace steprl::cpu {

double probe_read_bandwidth(int64_t bytes, int repeats) {
  const int64_t words = std::max<int64_t>(bytes / 8, 1 << 16);
  std::vector<uint64_t> buffer(static_cast<size_t>(words));
  for (int64_t i = 0; i < words; ++i) buffer[static_cast<size_t>(i)] = static_cast<uint64_t>(i) * 2654435761u;
  const int64_t tasks = 64;
  std::vector<uint64_t> partial(tasks);
  volatile uint64_t sink = 0;
  double best = 0.0;
  for (int rep = 0; rep < std::max(repeats, 1); ++rep) {
    const auto start = std::chrono::steady_clock::now();
    parallel_for(tasks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t lo = words * task / tasks, hi = words * (task + 1) / tasks;
        const uint64_t* p = buffer.data();
        uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        int64_t i = lo;
        for (; i + 4 <= hi; i += 4) {
          a0 += p[i];
          a1 += p[i + 1];
          a2 += p[i + 2];
          a3 += p[i + 3];
        }
        for (; i < hi; ++i) a0 += p[i];
        partial[static_cast<size_t>(task)] = a0 + a1 + a2 + a3;
      }
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    uint64_t total = 0;
    for (uint64_t v : partial) total += v;
    sink = sink + total;
    best = std::max(best, static_cast<double>(words * 8) / seconds / 1e9);
  }
  return best;
}

}  // namespace steprl::cpu
