#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace medassist {
namespace {

// Every task index is visited exactly once, for many pool sizes and task counts.
TEST(ThreadPool, VisitsEveryIndexOnce) {
  for (int n_threads : {1, 2, 3, 4, 8}) {
    ThreadPool pool(n_threads);
    for (int64_t n_tasks : {0, 1, 2, 3, 7, 64, 1000}) {
      std::vector<std::atomic<int>> visits(static_cast<size_t>(n_tasks));
      pool.ParallelFor(n_tasks, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) visits[static_cast<size_t>(i)].fetch_add(1);
      });
      for (int64_t i = 0; i < n_tasks; ++i) {
        ASSERT_EQ(visits[static_cast<size_t>(i)].load(), 1)
            << "index " << i << " of " << n_tasks << " with " << n_threads << " threads";
      }
    }
  }
}

// The split is the documented static one: thread t runs [n*t/T, n*(t+1)/T), empty ranges skipped.
TEST(ThreadPool, StaticContiguousSplit) {
  const int n_threads = 3;
  ThreadPool pool(n_threads);
  for (int64_t n_tasks : {2, 5, 10, 1001}) {
    std::mutex mu;
    std::vector<std::pair<int64_t, int64_t>> ranges;
    pool.ParallelFor(n_tasks, [&](int64_t begin, int64_t end) {
      std::lock_guard<std::mutex> lock(mu);
      ranges.emplace_back(begin, end);
    });
    std::sort(ranges.begin(), ranges.end());
    std::vector<std::pair<int64_t, int64_t>> expected;
    for (int t = 0; t < n_threads; ++t) {
      const int64_t b = n_tasks * t / n_threads, e = n_tasks * (t + 1) / n_threads;
      if (b < e) expected.emplace_back(b, e);
    }
    EXPECT_EQ(ranges, expected) << n_tasks << " tasks";
  }
}

// Per-range float sums combined in range order give the same bits on every call.
TEST(ThreadPool, DeterministicResults) {
  ThreadPool pool(4);
  const int64_t n = 10007;
  auto run = [&] {
    std::vector<float> partial(static_cast<size_t>(n), 0.0f);
    pool.ParallelFor(n, [&](int64_t begin, int64_t end) {
      float s = 0.0f;
      for (int64_t i = begin; i < end; ++i) s += 1.0f / static_cast<float>(i + 1);
      partial[static_cast<size_t>(begin)] = s;
    });
    float total = 0.0f;
    for (float p : partial) total += p;
    return total;
  };
  const float first = run();
  EXPECT_GT(first, 9.0f);  // harmonic number H_10007 ~ 9.79
  for (int i = 0; i < 20; ++i) ASSERT_EQ(run(), first);
}

// Back-to-back calls (workers spinning) and calls after a pause (workers asleep on the futex)
// both complete with the right result: no lost wake-up.
TEST(ThreadPool, ManyCallsAndWakeUpsFromSleep) {
  ThreadPool pool(3);
  std::atomic<int64_t> sum{0};
  for (int call = 0; call < 5000; ++call) {
    pool.ParallelFor(6, [&](int64_t begin, int64_t end) { sum.fetch_add(end - begin); });
  }
  EXPECT_EQ(sum.load(), 5000 * 6);
  for (int call = 0; call < 5; ++call) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    sum = 0;
    pool.ParallelFor(6, [&](int64_t begin, int64_t end) { sum.fetch_add(end - begin); });
    EXPECT_EQ(sum.load(), 6);
  }
}

TEST(ThreadPool, SingleThreadRunsInlineOnCaller) {
  ThreadPool pool(1);
  std::vector<std::thread::id> ids;
  pool.ParallelFor(100, [&](int64_t begin, int64_t end) {
    EXPECT_EQ(begin, 0);
    EXPECT_EQ(end, 100);
    ids.push_back(std::this_thread::get_id());
  });
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0], std::this_thread::get_id());
}

TEST(ThreadPool, UsesWorkerThreads) {
  ThreadPool pool(2);
  std::mutex mu;
  std::vector<std::thread::id> ids;
  pool.ParallelFor(2, [&](int64_t, int64_t) {
    std::lock_guard<std::mutex> lock(mu);
    ids.push_back(std::this_thread::get_id());
  });
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_NE(ids[0], ids[1]);
}

// Pools destroyed right after construction, after one call, and after workers fell asleep all
// join cleanly (the test would hang otherwise).
TEST(ThreadPool, DestructionJoins) {
  for (int i = 0; i < 50; ++i) {
    ThreadPool idle(4);
  }
  for (int i = 0; i < 50; ++i) {
    ThreadPool pool(3);
    std::atomic<int> calls{0};
    pool.ParallelFor(3, [&](int64_t, int64_t) { calls.fetch_add(1); });
    EXPECT_EQ(calls.load(), 3);
  }
  ThreadPool sleepy(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

TEST(ThreadPool, DefaultThreadCountIsPhysicalCores) {
  const int n = DefaultThreadCount();
  EXPECT_GE(n, 1);
  EXPECT_LE(n, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

}  // namespace
}  // namespace medassist
