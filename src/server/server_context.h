// What the route handlers share (internal to server/): the options, the backend once loaded, the
// metrics, and the shutdown state. Also the small response helpers every route uses.
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "server/api_error.h"
#include "server/backend.h"
#include "server/metrics.h"
#include "server/requests.h"
#include "server/server.h"

namespace medassist::server {

class ServerContext {
 public:
  explicit ServerContext(ServerOptions server_options) : options(std::move(server_options)) {}

  const ServerOptions options;
  ServerMetrics metrics;
  std::atomic<bool> draining{false};    // Shutdown began: refuse new generations
  std::atomic<bool> cancelling{false};  // the drain deadline passed: cancel what still runs
  std::atomic<int> in_flight{0};        // generation requests being served
  const int64_t started_unix = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();

  std::shared_ptr<Backend> backend() const;
  void set_backend(std::shared_ptr<Backend> b);
  std::string backend_error() const;
  void set_backend_error(std::string message);

  // The model name answers carry: the request's (any name is accepted unless strict), or ours.
  std::string ModelName(const std::string& requested) const;
  // Limits for the request parsers (vocabulary and context of the loaded backend).
  RequestLimits Limits(const Backend& backend) const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<Backend> backend_;
  std::string backend_error_;
};

// Counts a generation request in flight for its lifetime.
class InFlight {
 public:
  explicit InFlight(ServerContext& ctx) : ctx_(ctx) { ctx_.in_flight.fetch_add(1); }
  ~InFlight() { ctx_.in_flight.fetch_sub(1); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  ServerContext& ctx_;
};

// JSON dumped with invalid UTF-8 replaced (token bytes may hold half a character).
std::string DumpJson(const nlohmann::json& value);
void SendJson(httplib::Response& res, int status, const nlohmann::json& body);
void SendError(httplib::Response& res, const ApiError& error);

// The backend for a generating route, or the error to send: 503 while loading or draining, 404 for
// an unknown model name under --strict-model-names.
std::shared_ptr<Backend> BackendOrError(ServerContext& ctx, const std::string& requested_model,
                                        httplib::Response& res);

// "prefix" + 24 random characters (chatcmpl-..., cmpl-...).
std::string NewCompletionId(const char* prefix);
int64_t UnixSeconds();

void RegisterInfoRoutes(httplib::Server& http, ServerContext& ctx);
void RegisterGenerationRoutes(httplib::Server& http, ServerContext& ctx);

}  // namespace medassist::server
