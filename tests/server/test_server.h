// A real ApiServer on a loopback port for the server tests, with the backends they use: the local
// engine on the tiny stories260K model (shared test data), and a scripted backend whose output
// and timing the test decides.
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/backend.h"
#include "server/local_backend.h"
#include "server/server.h"

namespace medassist::server::testing {

// Starts Serve on a free 127.0.0.1 port; the destructor shuts it down and joins.
class TestServer {
 public:
  TestServer(ServerOptions options, std::shared_ptr<Backend> backend);
  ~TestServer();
  int port() const { return server_->port(); }
  ApiServer& server() { return *server_; }
  httplib::Client Client() const;
  // Shutdown with the given drain, then join the serving thread (idempotent).
  void Stop(std::chrono::milliseconds drain = std::chrono::milliseconds(0));

 private:
  std::unique_ptr<ApiServer> server_;
  std::thread thread_;
};

// The local engine on stories260K (vocabulary 512, context capped at `context`).
std::shared_ptr<LocalBackend> StoriesBackend(int32_t context = 256, int32_t max_pending = 64);

// Emits each chunk as one token event (delay_ms apart), then finishes with `reason`.
class ScriptedBackend : public Backend {
 public:
  ScriptedBackend(std::vector<std::string> chunks, runtime::FinishReason reason, int delay_ms = 0)
      : chunks_(std::move(chunks)), reason_(reason), delay_ms_(delay_ms) {}
  Result<std::unique_ptr<BackendStream>> Start(const BackendRequest& request) override;
  BackendHealth Health() const override { return {.ready = true, .state = "ok"}; }
  const char* kind() const override { return "scripted"; }
  const tokenizer::Tokenizer* tokenizer() const override { return nullptr; }
  std::optional<runtime::EngineMetrics> engine_metrics() const override { return std::nullopt; }
  int32_t context_length() const override { return 1024; }

  std::atomic<int> started{0}, cancelled{0};
  BackendRequest last_request;

 private:
  std::vector<std::string> chunks_;
  runtime::FinishReason reason_;
  int delay_ms_;
};

struct Response {
  int status = 0;
  std::string body;
  httplib::Headers headers;
  nlohmann::json json;  // the body parsed (null when it is not JSON)
};

// POST / GET through a fresh client (no key unless given).
Response Post(int port, const std::string& path, const std::string& body,
              const httplib::Headers& headers = {});
Response Get(int port, const std::string& path, const httplib::Headers& headers = {});

// The `data:` payloads of an SSE body, in order ("[DONE]" included as text).
std::vector<std::string> SseData(const std::string& body);

}  // namespace medassist::server::testing
