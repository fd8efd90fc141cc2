// The remote backend's upstream servers: several base URLs taken in turn (round-robin), each with a
// circuit breaker so that a dead one fails fast instead of costing every request a connect
// timeout, and the retry delays (exponential backoff with jitter).
//
//   UpstreamPool pool(urls, settings);
//   for (attempt...) { std::optional<size_t> i = pool.Pick(); ... pool.ReportSuccess(*i) or
//                      pool.ReportFailure(*i, "connection refused"); }
//
// Breaker per upstream: `failure_threshold` failures in a row open it for `open_for`; after that
// one request is let through (half-open): a success closes it, a failure opens it again.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace medassist::server {

struct UpstreamPoolSettings {
  int failure_threshold = 3;
  std::chrono::milliseconds open_for{10'000};
  std::chrono::milliseconds backoff_base{250};  // first retry delay; doubles per attempt
  std::chrono::milliseconds backoff_max{4'000};
};

enum class BreakerState { kClosed, kOpen, kHalfOpen };
const char* BreakerStateName(BreakerState state);

struct UpstreamStatus {
  std::string url = {};  // redacted for display
  BreakerState state = BreakerState::kClosed;
  int consecutive_failures = 0;
  std::string last_error = {};
  int64_t requests = 0;
  int64_t failures = 0;
};

class UpstreamPool {
 public:
  using Clock = std::chrono::steady_clock;

  UpstreamPool(std::vector<std::string> urls, UpstreamPoolSettings settings);

  size_t size() const { return urls_.size(); }
  const std::string& url(size_t i) const { return urls_[i]; }

  // The next upstream whose breaker lets a request through, round-robin; nullopt when every
  // breaker is open. `skip` lists upstreams already tried for this request (failover goes on to
  // the others first; when all were tried, any closed one may be tried again).
  std::optional<size_t> Pick(const std::vector<size_t>& skip = {});
  void ReportSuccess(size_t i);
  void ReportFailure(size_t i, std::string error);

  // The delay before retry number `attempt` (1, 2, ...): base * 2^(attempt-1), capped, with full
  // jitter in [delay/2, delay].
  std::chrono::milliseconds BackoffDelay(int attempt);

  std::vector<UpstreamStatus> Statuses() const;
  // How long until the first open breaker lets a request through again (0 when one is usable).
  std::chrono::milliseconds TimeUntilUsable() const;

 private:
  struct Upstream {
    BreakerState state = BreakerState::kClosed;
    int consecutive_failures = 0;
    Clock::time_point open_until = {};
    bool probe_in_flight = false;  // half-open: the one request let through
    std::string last_error;
    int64_t requests = 0;
    int64_t failures = 0;
  };
  bool Usable(Upstream& u, Clock::time_point now);

  const std::vector<std::string> urls_;
  const UpstreamPoolSettings settings_;
  mutable std::mutex mutex_;
  std::vector<Upstream> upstreams_;
  size_t next_ = 0;
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace medassist::server
