// embedding.cc: the row gather and the deterministic scatter-add of embedding.h. Both are memory
// moves the compiler vectorizes; no ISA-specific files are needed.
#include "embedding.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "parallel.h"

namespace steprl::cpu {

void embedding_forward_cpu(float* out, const int32_t* tokens, const float* table, int64_t N, int64_t C) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(C, 1));
  parallel_for(N, grain, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n)
      std::memcpy(out + n * C, table + static_cast<int64_t>(tokens[n]) * C, static_cast<size_t>(C) * sizeof(float));
  });
}

void embedding_backward_cpu(float* dtable, const float* dout, const int32_t* tokens, int64_t N, int64_t C) {
  if (N <= 0 || C <= 0) return;
  // (token << 32 | n), sorted: the rows of each token in increasing n.
  std::vector<uint64_t> order(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) order[n] = static_cast<uint64_t>(static_cast<uint32_t>(tokens[n])) << 32 | static_cast<uint64_t>(n);
  std::sort(order.begin(), order.end());
  // Runs of one token; a task handles whole runs, so each dtable row has exactly one writer.
  std::vector<int64_t> run_start;
  for (int64_t i = 0; i < N; ++i)
    if (i == 0 || (order[i] >> 32) != (order[i - 1] >> 32)) run_start.push_back(i);
  run_start.push_back(N);
  const int64_t runs = static_cast<int64_t>(run_start.size()) - 1;
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1));
  parallel_for(runs, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* row = dtable + static_cast<int64_t>(order[run_start[r]] >> 32) * C;
      for (int64_t i = run_start[r]; i < run_start[r + 1]; ++i) {
        const float* g = dout + static_cast<int64_t>(order[i] & 0xffffffffu) * C;
        for (int64_t c = 0; c < C; ++c) row[c] += g[c];
      }
    }
  });
}

}  // namespace steprl::cpu
