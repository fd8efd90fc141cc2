#include "server/upstream_pool.h"

#include <gtest/gtest.h>

#include <thread>

namespace medassist::server {
namespace {

using namespace std::chrono_literals;

UpstreamPoolSettings Fast() {
  return {.failure_threshold = 2, .open_for = 100ms, .backoff_base = 100ms, .backoff_max = 400ms};
}

TEST(UpstreamPoolTest, TakesUpstreamsInTurn) {
  UpstreamPool pool({"http://a", "http://b", "http://c"}, Fast());
  EXPECT_EQ(pool.Pick(), 0u);
  EXPECT_EQ(pool.Pick(), 1u);
  EXPECT_EQ(pool.Pick(), 2u);
  EXPECT_EQ(pool.Pick(), 0u);
}

TEST(UpstreamPoolTest, FailoverPrefersUpstreamsNotYetTried) {
  UpstreamPool pool({"http://a", "http://b"}, Fast());
  EXPECT_EQ(pool.Pick({}), 0u);
  EXPECT_EQ(pool.Pick({1}), 0u);     // b was tried: a, although b is next in turn
  EXPECT_EQ(pool.Pick({0, 1}), 1u);  // all tried: any usable one again
}

TEST(UpstreamPoolTest, TheBreakerOpensHalfOpensAndCloses) {
  UpstreamPool pool({"http://a"}, Fast());
  pool.ReportFailure(0, "refused");
  EXPECT_EQ(pool.Statuses()[0].state, BreakerState::kClosed);  // 1 of 2
  pool.ReportFailure(0, "refused again");
  EXPECT_EQ(pool.Statuses()[0].state, BreakerState::kOpen);
  EXPECT_EQ(pool.Statuses()[0].last_error, "refused again");
  EXPECT_FALSE(pool.Pick().has_value());
  EXPECT_GT(pool.TimeUntilUsable(), 0ms);
  std::this_thread::sleep_for(120ms);
  EXPECT_EQ(pool.TimeUntilUsable(), 0ms);
  // Half-open: exactly one request goes through until it reports.
  EXPECT_EQ(pool.Pick(), 0u);
  EXPECT_FALSE(pool.Pick().has_value());
  pool.ReportFailure(0, "still down");  // a failed probe opens it again at once
  EXPECT_EQ(pool.Statuses()[0].state, BreakerState::kOpen);
  std::this_thread::sleep_for(120ms);
  EXPECT_EQ(pool.Pick(), 0u);
  pool.ReportSuccess(0);
  EXPECT_EQ(pool.Statuses()[0].state, BreakerState::kClosed);
  EXPECT_EQ(pool.Statuses()[0].consecutive_failures, 0);
  EXPECT_EQ(pool.Statuses()[0].failures, 3);
  EXPECT_EQ(pool.Statuses()[0].requests, 2);
}

TEST(UpstreamPoolTest, ASuccessResetsTheFailureCount) {
  UpstreamPool pool({"http://a"}, Fast());
  pool.ReportFailure(0, "x");
  pool.ReportSuccess(0);
  pool.ReportFailure(0, "y");
  EXPECT_EQ(pool.Statuses()[0].state, BreakerState::kClosed);
}

TEST(UpstreamPoolTest, BackoffDoublesWithJitterUpToTheCap) {
  UpstreamPool pool({"http://a"}, Fast());
  for (int i = 0; i < 50; ++i) {
    auto first = pool.BackoffDelay(1), second = pool.BackoffDelay(2), later = pool.BackoffDelay(9);
    EXPECT_GE(first, 50ms);
    EXPECT_LE(first, 100ms);
    EXPECT_GE(second, 100ms);
    EXPECT_LE(second, 200ms);
    EXPECT_GE(later, 200ms);
    EXPECT_LE(later, 400ms);
  }
}

TEST(UpstreamPoolTest, StatusesHideCredentials) {
  UpstreamPool pool({"https://user:secret@host/x?token=t"}, Fast());
  EXPECT_EQ(pool.Statuses()[0].url, "https://host/x");
}

}  // namespace
}  // namespace medassist::server
