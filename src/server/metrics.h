// The server's Prometheus metrics: HTTP requests by route and status with latency histograms,
// per-request token counts, and the engine's own gauges and counters (runtime/engine.h), in the
// text exposition format (version 0.0.4).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/engine.h"

namespace medassist::server {

// A Prometheus histogram: cumulative bucket counts, sum and count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds)
      : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}
  void Observe(double value);
  // Lines "name_bucket{labels,le=...} n", "name_sum{labels} s", "name_count{labels} n".
  void Render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<int64_t> counts_;  // per bucket, not cumulative; the last is +Inf
  double sum_ = 0;
  int64_t count_ = 0;
};

class ServerMetrics {
 public:
  // route: a fixed route name (never the raw path, so the label set stays small).
  void RecordRequest(const std::string& route, int status, double seconds);
  void RecordTokens(int32_t n_prompt, int32_t n_completion);
  // The whole exposition; engine is the local engine's snapshot (nullopt for a remote backend).
  std::string Render(const std::optional<runtime::EngineMetrics>& engine, int in_flight) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
  std::map<std::string, Histogram> latency_;
  Histogram prompt_tokens_{{16, 64, 256, 1024, 4096, 16384}};
  Histogram completion_tokens_{{1, 16, 64, 256, 1024, 4096}};
};

// The route label for a request path: the registered route, or "other".
std::string RouteLabel(const std::string& path);

}  // namespace medassist::server
