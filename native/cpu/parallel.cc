// parallel.cc: a small persistent thread pool (condition-variable wake-up, caller participates).
//
// One job runs at a time: concurrent callers (several AsyncWorkers) queue on job_mutex_. A
// parallel_for called from inside a task runs inline, so kernels may nest without deadlock. An
// exception thrown by a task (e.g. bad_alloc of a scratch buffer) stops the remaining chunks and
// is rethrown in the caller, where the N-API layer turns it into a JS error; it never escapes a
// pool thread (which would terminate the process).
#include "parallel.h"

#include <utility>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace steprl::cpu {
namespace {

thread_local bool in_pool_task = false;

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

int initial_threads() {
  if (const char* env = std::getenv("STEPRL_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return std::min(n, 256);
  }
  return hardware_threads();
}

class Pool {
 public:
  Pool() : wanted_(initial_threads()) {}

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(state_mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  int threads() const { return wanted_.load(); }
  void set_threads(int n) { wanted_.store(n <= 0 ? hardware_threads() : std::min(n, 256)); }

  void run(int64_t n_tasks, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n_tasks <= 0) return;
    grain = std::max<int64_t>(grain, 1);
    const int64_t chunks = (n_tasks + grain - 1) / grain;
    const int want = static_cast<int>(std::min<int64_t>(threads(), chunks));
    if (want <= 1 || in_pool_task) {
      fn(0, n_tasks);
      return;
    }
    std::lock_guard<std::mutex> job_lock(job_mutex_);
    ensure_workers(want - 1);
    {
      std::lock_guard<std::mutex> lock(state_mutex_);
      fn_ = &fn;
      n_tasks_ = n_tasks;
      grain_ = grain;
      next_.store(0);
      failure_ = nullptr;
      active_helpers_ = want - 1;
      pending_ = want - 1;
      ++generation_;
    }
    wake_.notify_all();
    work_loop();
    std::unique_lock<std::mutex> lock(state_mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    fn_ = nullptr;
    if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
  }

 private:
  void ensure_workers(int n) {
    while (static_cast<int>(workers_.size()) < n) {
      int index = static_cast<int>(workers_.size());
      workers_.emplace_back([this, index] { worker_main(index); });
    }
  }

  // Claims chunks until the range is exhausted (or a chunk threw: then the rest are skipped).
  void work_loop() {
    in_pool_task = true;
    for (;;) {
      int64_t begin = next_.fetch_add(grain_);
      if (begin >= n_tasks_) break;
      try {
        (*fn_)(begin, std::min(begin + grain_, n_tasks_));
      } catch (...) {
        std::lock_guard<std::mutex> lock(state_mutex_);
        if (!failure_) failure_ = std::current_exception();
        next_.store(n_tasks_);
      }
    }
    in_pool_task = false;
  }

  void worker_main(int index) {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(state_mutex_);
        wake_.wait(lock, [&] { return stopping_ || (generation_ != seen && index < active_helpers_); });
        if (stopping_) return;
        seen = generation_;
      }
      work_loop();
      {
        std::lock_guard<std::mutex> lock(state_mutex_);
        if (--pending_ == 0) done_.notify_one();
      }
    }
  }

  std::atomic<int> wanted_;
  std::mutex job_mutex_;
  std::mutex state_mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_tasks_ = 0;
  int64_t grain_ = 1;
  std::atomic<int64_t> next_{0};
  std::exception_ptr failure_;
  int active_helpers_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

Pool& pool() {
  // Leaked on purpose: joining threads from a static destructor at process exit can deadlock
  // when the addon is unloaded while a worker still sleeps.
  static Pool* instance = new Pool();
  return *instance;
}

}  // namespace

int num_threads() { return pool().threads(); }
void set_num_threads(int n) { pool().set_threads(n); }

void parallel_for(int64_t n_tasks, int64_t grain,
                  const std::function<void(int64_t begin, int64_t end)>& fn) {
  pool().run(n_tasks, grain, fn);
}

}  // namespace steprl::cpu
