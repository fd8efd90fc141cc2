#include "server/metrics.h"

#include <fmt/format.h>

namespace medassist::server {
namespace {

const std::vector<double> kLatencyBounds = {0.005, 0.025, 0.1, 0.25, 0.5, 1,
                                            2.5,   5,     10,  30,   60,  120};

void Line(std::string* out, const std::string& name, const std::string& labels, double value) {
  *out += labels.empty() ? fmt::format("{} {}\n", name, value)
                         : fmt::format("{}{{{}}} {}\n", name, labels, value);
}

void Header(std::string* out, const char* name, const char* type, const char* help) {
  *out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::Render(const std::string& name, const std::string& labels, std::string* out) const {
  const std::string sep = labels.empty() ? "" : labels + ",";
  int64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    *out += fmt::format("{}_bucket{{{}le=\"{}\"}} {}\n", name, sep, bounds_[i], cumulative);
  }
  *out += fmt::format("{}_bucket{{{}le=\"+Inf\"}} {}\n", name, sep, count_);
  Line(out, name + "_sum", labels, sum_);
  Line(out, name + "_count", labels, static_cast<double>(count_));
}

void ServerMetrics::RecordRequest(const std::string& route, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{route, status}];
  latency_.try_emplace(route, kLatencyBounds).first->second.Observe(seconds);
}

void ServerMetrics::RecordTokens(int32_t n_prompt, int32_t n_completion) {
  std::lock_guard<std::mutex> lock(mutex_);
  prompt_tokens_.Observe(n_prompt);
  completion_tokens_.Observe(n_completion);
}

std::string ServerMetrics::Render(const std::optional<runtime::EngineMetrics>& engine,
                                  int in_flight) const {
  std::string out;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Header(&out, "medassist_http_requests_total", "counter", "HTTP requests by route and status");
    for (const auto& [key, n] : requests_) {
      Line(&out, "medassist_http_requests_total",
           fmt::format("route=\"{}\",status=\"{}\"", key.first, key.second),
           static_cast<double>(n));
    }
    Header(&out, "medassist_http_request_duration_seconds", "histogram",
           "Time from request to the end of the response, by route");
    for (const auto& [route, h] : latency_) {
      h.Render("medassist_http_request_duration_seconds", fmt::format("route=\"{}\"", route), &out);
    }
    Header(&out, "medassist_request_prompt_tokens", "histogram", "Prompt tokens per request");
    prompt_tokens_.Render("medassist_request_prompt_tokens", "", &out);
    Header(&out, "medassist_request_completion_tokens", "histogram",
           "Generated tokens per request (all choices)");
    completion_tokens_.Render("medassist_request_completion_tokens", "", &out);
  }
  Header(&out, "medassist_requests_in_flight", "gauge", "Generation requests being served");
  Line(&out, "medassist_requests_in_flight", "", in_flight);
  if (!engine) return out;
  const runtime::EngineStats& s = engine->engine;
  struct Item {
    const char* name;
    const char* type;
    const char* help;
    double value;
  };
  const Item items[] = {
      {"medassist_queue_waiting", "gauge", "Requests waiting for admission", double(s.waiting)},
      {"medassist_sequences_running", "gauge", "Sequences in the running batch", double(s.running)},
      {"medassist_kv_blocks_used", "gauge", "KV cache blocks in use", double(s.kv_blocks_used)},
      {"medassist_kv_blocks_free", "gauge", "KV cache blocks free", double(s.kv_blocks_free)},
      {"medassist_prefix_cache_blocks", "gauge", "KV blocks held by the prefix cache",
       double(s.prefix_cache_blocks)},
      {"medassist_prefix_cache_hit_blocks_total", "counter",
       "Prompt blocks found in the prefix cache", double(s.prefix_hit_blocks)},
      {"medassist_prefix_cache_lookup_blocks_total", "counter",
       "Prompt blocks looked up in the prefix cache", double(s.prefix_lookup_blocks)},
      {"medassist_prompt_tokens_total", "counter", "Prompt tokens of admitted requests",
       double(s.prompt_tokens)},
      {"medassist_prompt_tokens_computed_total", "counter",
       "Prompt tokens run through the model (the rest came from the prefix cache)",
       double(s.prompt_tokens_computed)},
      {"medassist_generated_tokens_total", "counter", "Tokens generated",
       double(s.generated_tokens)},
      {"medassist_time_to_first_token_seconds_sum", "counter", "Sum of times to first token",
       engine->ttft_seconds_sum},
      {"medassist_time_to_first_token_seconds_count", "counter", "Requests with a first token",
       double(engine->ttft_count)},
      {"medassist_inter_token_latency_seconds_sum", "counter", "Sum of times between tokens",
       engine->itl_seconds_sum},
      {"medassist_inter_token_latency_seconds_count", "counter", "Gaps between tokens measured",
       double(engine->itl_count)},
  };
  for (const Item& item : items) {
    Header(&out, item.name, item.type, item.help);
    Line(&out, item.name, "", item.value);
  }
  return out;
}

std::string RouteLabel(const std::string& path) {
  static const char* const kRoutes[] = {"/",
                                        "/health",
                                        "/v1/generate",
                                        "/v1/chat/completions",
                                        "/v1/completions",
                                        "/v1/models",
                                        "/tokenize",
                                        "/detokenize",
                                        "/metrics",
                                        "/openapi.json",
                                        "/docs"};
  for (const char* r : kRoutes) {
    if (path == r) return r;
  }
  if (path.rfind("/docs/", 0) == 0) return "/docs";
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models";
  return "other";
}

}  // namespace medassist::server
