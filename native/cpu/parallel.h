// parallel.h: the CPU thread pool every kernel shares.
//
// parallel_for(n, grain, fn) splits the task range [0, n) into chunks of `grain` tasks and runs
// fn(begin, end) on them from the pool, the calling thread included. Which thread runs a chunk is
// not fixed, so kernels must make each task's result depend only on its own inputs; reductions
// write one partial per *task* and combine the partials in task order afterwards. That keeps every
// result bit-identical for any thread count (STEPRL_NUM_THREADS or set_num_threads).
#pragma once

#include <cstdint>
#include <functional>

namespace steprl::cpu {

int num_threads();
// n <= 0 means "all hardware threads". Takes effect for the next parallel_for.
void set_num_threads(int n);

void parallel_for(int64_t n_tasks, int64_t grain,
                  const std::function<void(int64_t begin, int64_t end)>& fn);

// Fixed-size task decomposition for reductions: the number of tasks depends only on n and
// `per_task`, never on the thread count.
inline int64_t task_count(int64_t n, int64_t per_task) {
  return n <= 0 ? 0 : (n + per_task - 1) / per_task;
}

}  // namespace steprl::cpu
