// The backend that forwards to upstream servers: a Hugging Face Inference Endpoint or TGI (its
// native API), vLLM, llama.cpp's server or any OpenAI-compatible server. The routes, auth, limits,
// reasoning split and metrics in front of it are the same as for the local engine.
//
// Each request is one upstream call on its own thread, streamed back event by event (never
// buffered whole). Before the answer starts, failures are retried: connection errors and 502 /
// 503 / 504 / 429 with exponential backoff and jitter, failing over to the next upstream, and the
// cold start of a scaled-to-zero endpoint (503 with `estimated_time`) waited out up to
// `cold_start_max_wait`. Once the answer has started nothing is retried: a broken stream ends
// with an error event. A client gone or a shutdown aborts the upstream call.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/backend.h"
#include "server/remote_protocol.h"
#include "server/upstream_pool.h"

namespace medassist::server {

struct RemoteBackendOptions {
  std::vector<std::string> urls = {};  // base URLs, e.g. https://xyz.endpoints.huggingface.cloud
  RemoteProtocolKind protocol = RemoteProtocolKind::kTgi;
  std::string token = {};  // sent as `Authorization: Bearer ...`; never logged
  std::string model = {};  // OpenAI protocol: the `model` field sent upstream
  tokenizer::ChatTemplate chat_template = tokenizer::ChatTemplate::ChatMl("");  // TGI chat
  std::chrono::milliseconds connect_timeout{5'000};
  // No byte from the upstream for this long (before the first token, or between two) fails the
  // request: 504 before the answer started, an error event after.
  std::chrono::milliseconds idle_timeout{120'000};
  int max_retries = 3;  // retries of a request that has not started (not counting cold start)
  std::chrono::milliseconds cold_start_max_wait{300'000};
  UpstreamPoolSettings pool = {};
  int32_t max_pending = 256;       // requests in flight at once; more get 503 + Retry-After
  int32_t context_length = 32768;  // what /v1/models and request limits report
  // Each upstream's health route is probed this often (0: never) for /health.
  std::chrono::milliseconds health_interval{15'000};
};

class RemoteBackend : public Backend {
 public:
  static Result<std::unique_ptr<RemoteBackend>> Create(RemoteBackendOptions options);
  ~RemoteBackend() override;

  Result<std::unique_ptr<BackendStream>> Start(const BackendRequest& request) override;
  BackendHealth Health() const override;
  const char* kind() const override { return "remote"; }
  const tokenizer::Tokenizer* tokenizer() const override { return nullptr; }
  std::optional<runtime::EngineMetrics> engine_metrics() const override { return std::nullopt; }
  int32_t context_length() const override { return options_.context_length; }
  std::string MetricsText() const override;

  // Probes every upstream's health route now (the prober thread calls it; tests too).
  void ProbeNow();

  // Shared with the streams (which may outlive a request's handler).
  struct Shared;

 private:
  explicit RemoteBackend(RemoteBackendOptions options);
  void ProbeLoop();

  RemoteBackendOptions options_;
  std::shared_ptr<Shared> shared_;
  std::thread prober_;
  std::mutex prober_mutex_;
  std::condition_variable prober_wake_;
  bool stopping_ = false;
};

}  // namespace medassist::server
