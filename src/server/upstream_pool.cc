#include "server/upstream_pool.h"

#include <algorithm>

#include "net/http_client.h"

namespace medassist::server {

const char* BreakerStateName(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half-open";
  }
  return "?";
}

UpstreamPool::UpstreamPool(std::vector<std::string> urls, UpstreamPoolSettings settings)
    : urls_(std::move(urls)), settings_(settings), upstreams_(urls_.size()) {}

bool UpstreamPool::Usable(Upstream& u, Clock::time_point now) {
  if (u.state == BreakerState::kClosed) return true;
  if (u.state == BreakerState::kOpen && now >= u.open_until) {
    u.state = BreakerState::kHalfOpen;
    u.probe_in_flight = false;
  }
  return u.state == BreakerState::kHalfOpen && !u.probe_in_flight;
}

std::optional<size_t> UpstreamPool::Pick(const std::vector<size_t>& skip) {
  std::lock_guard<std::mutex> lock(mutex_);
  const Clock::time_point now = Clock::now();
  std::optional<size_t> fallback;  // a usable upstream this request already tried
  for (size_t k = 0; k < upstreams_.size(); ++k) {
    const size_t i = (next_ + k) % upstreams_.size();
    if (!Usable(upstreams_[i], now)) continue;
    if (std::find(skip.begin(), skip.end(), i) != skip.end()) {
      if (!fallback) fallback = i;
      continue;
    }
    fallback = i;
    break;
  }
  if (!fallback) return std::nullopt;
  Upstream& u = upstreams_[*fallback];
  if (u.state == BreakerState::kHalfOpen) u.probe_in_flight = true;
  ++u.requests;
  next_ = (*fallback + 1) % upstreams_.size();
  return fallback;
}

void UpstreamPool::ReportSuccess(size_t i) {
  std::lock_guard<std::mutex> lock(mutex_);
  Upstream& u = upstreams_[i];
  u.state = BreakerState::kClosed;
  u.consecutive_failures = 0;
  u.probe_in_flight = false;
}

void UpstreamPool::ReportFailure(size_t i, std::string error) {
  std::lock_guard<std::mutex> lock(mutex_);
  Upstream& u = upstreams_[i];
  ++u.failures;
  ++u.consecutive_failures;
  u.last_error = std::move(error);
  u.probe_in_flight = false;
  if (u.state == BreakerState::kHalfOpen || u.consecutive_failures >= settings_.failure_threshold) {
    u.state = BreakerState::kOpen;
    u.open_until = Clock::now() + settings_.open_for;
  }
}

std::chrono::milliseconds UpstreamPool::BackoffDelay(int attempt) {
  int64_t delay = settings_.backoff_base.count();
  for (int k = 1; k < attempt && delay < settings_.backoff_max.count(); ++k) delay *= 2;
  delay = std::min<int64_t>(delay, settings_.backoff_max.count());
  std::lock_guard<std::mutex> lock(mutex_);
  std::uniform_int_distribution<int64_t> jitter(delay / 2, delay);
  return std::chrono::milliseconds(jitter(rng_));
}

std::vector<UpstreamStatus> UpstreamPool::Statuses() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<UpstreamStatus> out;
  for (size_t i = 0; i < upstreams_.size(); ++i) {
    const Upstream& u = upstreams_[i];
    BreakerState shown = u.state;
    if (shown == BreakerState::kOpen && Clock::now() >= u.open_until) {
      shown = BreakerState::kHalfOpen;
    }
    out.push_back({.url = net::RedactUrl(urls_[i]),
                   .state = shown,
                   .consecutive_failures = u.consecutive_failures,
                   .last_error = u.last_error,
                   .requests = u.requests,
                   .failures = u.failures});
  }
  return out;
}

std::chrono::milliseconds UpstreamPool::TimeUntilUsable() const {
  std::lock_guard<std::mutex> lock(mutex_);
  const Clock::time_point now = Clock::now();
  Clock::duration best = Clock::duration::max();
  for (const Upstream& u : upstreams_) {
    if (u.state != BreakerState::kOpen || now >= u.open_until) return {};
    best = std::min(best, u.open_until - now);
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(best);
}

}  // namespace medassist::server
