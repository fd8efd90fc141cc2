#include "core/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>

#include "core/check.h"

namespace medassist {
namespace {

// Spins before a worker sleeps (~27 us on this project's Xeon at 13 ns per pause; pause costs
// 10-140 cycles depending on the CPU): long enough to cover the gap between the back-to-back
// calls of a forward pass, short enough not to burn a core between requests.
constexpr int kSpinIterations = 2000;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads) {
  CHECK(n_threads >= 1) << "a thread pool needs at least the calling thread, got " << n_threads;
  workers_.reserve(static_cast<size_t>(n_threads - 1));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  stop_ = true;
  generation_.fetch_add(1, std::memory_order_seq_cst);
  generation_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::RunRange(int index) {
  const int64_t begin = n_tasks_ * index / n_threads_;
  const int64_t end = n_tasks_ * (index + 1) / n_threads_;
  if (begin < end) fn_(context_, begin, end);
}

void ThreadPool::ParallelFor(int64_t n_tasks, RangeFn fn, void* context) {
  if (n_tasks <= 0) return;
  if (n_threads_ == 1 || n_tasks == 1) {
    fn(context, 0, n_tasks);
    return;
  }
  fn_ = fn;
  context_ = context;
  n_tasks_ = n_tasks;
  n_done_.store(0, std::memory_order_relaxed);
  // seq_cst pairs with the sleeper's increment of n_sleeping_ then re-check of generation_:
  // either it sees the new generation or we see it sleeping and wake it.
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (n_sleeping_.load(std::memory_order_seq_cst) > 0) generation_.notify_all();
  RunRange(0);
  const int n_workers = n_threads_ - 1;
  for (int spins = 0; n_done_.load(std::memory_order_acquire) != n_workers; ++spins) {
    if (spins < kSpinIterations) {
      CpuRelax();
    } else {
      std::this_thread::yield();  // a worker was descheduled; let it run
    }
  }
}

void ThreadPool::WorkerLoop(int index) {
  // Generation 0 is the pool's birth: a call made before this thread first runs is still seen.
  uint32_t seen = 0;
  for (;;) {
    uint32_t now = generation_.load(std::memory_order_acquire);
    for (int spins = 0; now == seen && spins < kSpinIterations; ++spins) {
      CpuRelax();
      now = generation_.load(std::memory_order_acquire);
    }
    while (now == seen) {
      n_sleeping_.fetch_add(1, std::memory_order_seq_cst);
      generation_.wait(seen, std::memory_order_seq_cst);
      n_sleeping_.fetch_sub(1, std::memory_order_relaxed);
      now = generation_.load(std::memory_order_acquire);
    }
    seen = now;
    if (stop_) return;
    RunRange(index);
    n_done_.fetch_add(1, std::memory_order_release);
  }
}

int DefaultThreadCount() {
  const int fallback = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return fallback;
  // One entry per physical core: CPUs that are hyper-thread siblings share the same list.
  std::set<std::string> cores;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    std::ifstream in("/sys/devices/system/cpu/cpu" + std::to_string(cpu) +
                     "/topology/thread_siblings_list");
    std::string siblings;
    if (!std::getline(in, siblings)) return std::min(fallback, CPU_COUNT(&allowed));
    cores.insert(siblings);
  }
  return cores.empty() ? fallback : static_cast<int>(cores.size());
}

}  // namespace medassist
