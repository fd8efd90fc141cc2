// The HTTP API server (cpp-httplib): the original routes, the OpenAI-compatible ones, auth, CORS,
// limits and metrics, in front of a Backend. httplib stays inside server/.
//
//   ApiServer server(options);
//   RETURN_IF_ERROR(server.Bind());                    // port 0 picks a free port: server.port()
//   std::thread t([&] { server.Serve(); });
//   server.SetBackend(std::move(backend));            // until then /health answers 503 "loading"
//   ...
//   server.Shutdown(std::chrono::seconds(10));        // drain, cancel the rest, stop; Serve
//   returns
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "assistant/reasoning.h"
#include "assistant/safety.h"
#include "core/status.h"
#include "server/backend.h"

namespace medassist::server {

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 8000;
  std::string api_key = {};     // "" leaves the API open
  std::string model_name = {};  // what /v1/models lists and answers echo when a request names none
  bool strict_model_names = false;             // an unknown `model` is a 404 model_not_found
  std::vector<std::string> cors_origins = {};  // allowed Origin values; "*" any; empty: no CORS
  size_t max_body_bytes = 8u << 20;
  int http_threads = 256;  // connections served at once (streams hold one each)
  int32_t max_n = 4;       // choices per request
  // While a request waits for its first token (queue, long prefill), an SSE comment is sent this
  // often so proxies keep the stream open; a client gone is noticed within poll_interval.
  std::chrono::milliseconds keepalive_interval{15000};
  std::chrono::milliseconds poll_interval{200};
  // Reasoning markers of the served model ({} for none): chat answers are split into content and
  // reasoning_content.
  assistant::ReasoningMarkers reasoning = {};
  // The red-flag check before every generation (nullptr: off, e.g. for evaluation runs).
  std::shared_ptr<const assistant::SafetyPolicy> safety = {};
  bool safety_disclaimers = true;       // the short line after answers to personal questions
  bool safety_prefix_generate = false;  // /v1/generate's text also begins with the escalation
  std::string version = "0.1.0";
};

class ApiServer {
 public:
  explicit ApiServer(ServerOptions options);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // The backend serving requests; before it is set, /health is 503 "loading" and generating
  // routes are 503 with Retry-After.
  void SetBackend(std::shared_ptr<Backend> backend);
  // The backend failed to load: /health is 503 "unavailable" with this message.
  void SetBackendError(std::string message);

  // Binds host:port (port 0: a free port, see port()). IoError when the port is taken.
  Status Bind();
  int port() const;
  // Serves until Shutdown; returns then.
  void Serve();
  // Stops taking generation requests (503), lets those in flight finish for up to drain, cancels
  // the rest, then stops the listener. Safe from any thread, once.
  void Shutdown(std::chrono::milliseconds drain);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int bound_port_ = -1;
};

}  // namespace medassist::server
