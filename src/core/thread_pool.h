// One persistent pool of worker threads for all kernels (DESIGN §3), driven by one thread (the
// engine thread): ParallelFor is not reentrant and must not be called from two threads at once.
//
//   ThreadPool pool(DefaultThreadCount());
//   pool.ParallelFor(n_tasks, [&](int64_t begin, int64_t end) { ... tasks [begin, end) ... });
//
// Tasks are split statically into n_threads contiguous ranges (thread t gets
// [n_tasks * t / T, n_tasks * (t + 1) / T)), the caller running range 0 itself, so which thread
// computes what is fixed: no work stealing, nothing that depends on timing. Workers spin briefly
// after each call (a decode step makes ~200 calls back to back) and then sleep on a futex.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace medassist {

class ThreadPool {
 public:
  // n_threads counts the calling thread: ThreadPool(1) starts no thread and runs everything inline.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  using RangeFn = void (*)(void* context, int64_t begin, int64_t end);
  // Calls fn(context, begin, end) on each non-empty range of the static split of [0, n_tasks) and
  // returns when all are done. fn must not throw.
  void ParallelFor(int64_t n_tasks, RangeFn fn, void* context);

  // Same with any callable f(int64_t begin, int64_t end); no allocation.
  template <typename F>
  void ParallelFor(int64_t n_tasks, F&& f) {
    using Callable = std::remove_reference_t<F>;
    ParallelFor(
        n_tasks,
        [](void* context, int64_t begin, int64_t end) {
          (*static_cast<Callable*>(context))(begin, end);
        },
        const_cast<void*>(static_cast<const void*>(&f)));
  }

 private:
  void WorkerLoop(int index);
  void RunRange(int index);

  const int n_threads_;
  std::vector<std::thread> workers_;
  // The current job, written by the caller before it bumps generation_ (release) and read by the
  // workers after they see the new generation (acquire).
  RangeFn fn_ = nullptr;
  void* context_ = nullptr;
  int64_t n_tasks_ = 0;
  bool stop_ = false;
  alignas(64) std::atomic<uint32_t> generation_{0};
  alignas(64) std::atomic<int> n_sleeping_{0};
  alignas(64) std::atomic<int> n_done_{0};
};

// Physical cores this process may run on (hyper-threads of one core count once: the kernels are
// bound by memory bandwidth and FMA ports, which siblings share); hardware_concurrency() when the
// topology cannot be read.
int DefaultThreadCount();

}  // namespace medassist
