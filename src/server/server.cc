#include "server/server.h"

#include <sys/socket.h>

#include <random>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "server/auth.h"
#include "server/server_context.h"

namespace medassist::server {

// ---- ServerContext ----

std::shared_ptr<Backend> ServerContext::backend() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return backend_;
}

void ServerContext::set_backend(std::shared_ptr<Backend> b) {
  std::lock_guard<std::mutex> lock(mutex_);
  backend_ = std::move(b);
  backend_error_.clear();
}

std::string ServerContext::backend_error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return backend_error_;
}

void ServerContext::set_backend_error(std::string message) {
  std::lock_guard<std::mutex> lock(mutex_);
  backend_error_ = std::move(message);
}

std::string ServerContext::ModelName(const std::string& requested) const {
  return requested.empty() ? options.model_name : requested;
}

RequestLimits ServerContext::Limits(const Backend& backend) const {
  RequestLimits l;
  l.vocab_size = backend.tokenizer() != nullptr ? backend.tokenizer()->vocab_size() : 0;
  l.context = backend.context_length();
  l.max_n = options.max_n;
  return l;
}

std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void SendJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(DumpJson(body), "application/json");
}

void SendError(httplib::Response& res, const ApiError& error) {
  res.status = error.http_status;
  if (error.retry_after_seconds > 0) {
    res.set_header("Retry-After", std::to_string(error.retry_after_seconds));
  }
  res.set_content(ErrorJson(error), "application/json");
}

std::shared_ptr<Backend> BackendOrError(ServerContext& ctx, const std::string& requested_model,
                                        httplib::Response& res) {
  if (ctx.draining.load()) {
    SendError(res, ServerBusy("the server is shutting down; retry on another replica", 1));
    return nullptr;
  }
  std::shared_ptr<Backend> b = ctx.backend();
  if (b == nullptr) {
    std::string failure = ctx.backend_error();
    SendError(res, failure.empty() ? ServerBusy("the model is still loading; retry shortly", 5)
                                   : ApiError{.http_status = 503,
                                              .message = "the model failed to load: " + failure,
                                              .type = "server_error",
                                              .code = "model_unavailable"});
    return nullptr;
  }
  if (ctx.options.strict_model_names && !requested_model.empty() &&
      requested_model != ctx.options.model_name) {
    SendError(res, ApiError{.http_status = 404,
                            .message = fmt::format("The model '{}' does not exist; this server "
                                                   "serves '{}'",
                                                   requested_model, ctx.options.model_name),
                            .param = "model",
                            .code = "model_not_found"});
    return nullptr;
  }
  return b;
}

std::string NewCompletionId(const char* prefix) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id = prefix;
  for (int i = 0; i < 24; ++i) id += kChars[rng() % (sizeof(kChars) - 1)];
  return id;
}

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- ApiServer ----

namespace {

// When the request being handled on this thread started (httplib serves a request start to end on
// one worker thread; the logger, which records the metrics, runs there after the response).
thread_local std::chrono::steady_clock::time_point request_start;

bool OriginAllowed(const ServerOptions& o, const std::string& origin) {
  for (const std::string& allowed : o.cors_origins) {
    if (allowed == "*" || allowed == origin) return true;
  }
  return false;
}

void AddCorsHeaders(const ServerOptions& o, const httplib::Request& req, httplib::Response& res) {
  std::string origin = req.get_header_value("Origin");
  if (origin.empty() || !OriginAllowed(o, origin)) return;
  bool any = o.cors_origins.size() == 1 && o.cors_origins[0] == "*";
  res.set_header("Access-Control-Allow-Origin", any ? "*" : origin);
  if (!any) res.set_header("Vary", "Origin");
}

}  // namespace

// Connections the kernel queues for accept; httplib's own is 5.
constexpr int kListenBacklog = 1024;

struct ApiServer::Impl {
  explicit Impl(ServerOptions options) : ctx(std::move(options)) {}
  ServerContext ctx;
  httplib::Server http;
  std::once_flag shutdown_once;
  int listen_fd = -1;  // the listening socket, seen by the socket-options hook before bind
  httplib::Server::HandlerResponse PreRoute(const httplib::Request& req, httplib::Response& res);
  void Configure();
  httplib::Server::HandlerResponse FillError(const httplib::Request& req, httplib::Response& res);
};

httplib::Server::HandlerResponse ApiServer::Impl::PreRoute(const httplib::Request& req,
                                                           httplib::Response& res) {
  request_start = std::chrono::steady_clock::now();
  const ServerOptions& o = ctx.options;
  if (req.method == "OPTIONS") {  // CORS preflight
    std::string origin = req.get_header_value("Origin");
    if (origin.empty() || !OriginAllowed(o, origin)) {
      res.status = 403;
      return httplib::Server::HandlerResponse::Handled;
    }
    AddCorsHeaders(o, req, res);
    res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key");
    res.set_header("Access-Control-Max-Age", "600");
    res.status = 204;
    return httplib::Server::HandlerResponse::Handled;
  }
  if (!o.api_key.empty() && NeedsKey(req.path)) {
    std::string key =
        PresentedKey(req.get_header_value("Authorization"), req.get_header_value("X-API-Key"));
    if (!ConstantTimeEquals(key, o.api_key)) {
      AddCorsHeaders(o, req, res);
      res.set_header("WWW-Authenticate", "Bearer");
      SendError(res,
                ApiError{.http_status = 401,
                         .message = key.empty() ? "Missing API key: send 'Authorization: Bearer "
                                                  "KEY' or 'X-API-Key: KEY'"
                                                : "Incorrect API key provided",
                         .type = "invalid_request_error",
                         .code = "invalid_api_key"});
      return httplib::Server::HandlerResponse::Handled;
    }
  }
  return httplib::Server::HandlerResponse::Unhandled;
}

// Statuses >= 400 that no handler filled (404 unknown route, 413 body too large, 400 from the
// HTTP parser) get the OpenAI envelope too.
httplib::Server::HandlerResponse ApiServer::Impl::FillError(const httplib::Request& req,
                                                            httplib::Response& res) {
  if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
  AddCorsHeaders(ctx.options, req, res);
  ApiError e{.http_status = res.status, .message = fmt::format("HTTP error {}", res.status)};
  if (res.status == 404) {
    e.message = fmt::format("Unknown route: {} {}", req.method, req.path);
    e.code = "not_found";
  } else if (res.status == 413) {
    e.message = fmt::format("The request body is larger than the limit of {} bytes",
                            ctx.options.max_body_bytes);
    e.code = "request_too_large";
  } else if (res.status == 405) {
    e.message = fmt::format("Method {} is not allowed on {}", req.method, req.path);
  } else if (res.status == 400) {
    e.message = "The HTTP request could not be parsed";
  }
  SendError(res, e);
  return httplib::Server::HandlerResponse::Handled;
}

void ApiServer::Impl::Configure() {
  const ServerOptions& o = ctx.options;
  // Debian's cpp-httplib is a compiled library: CPPHTTPLIB_THREAD_POOL_COUNT set here would not
  // reach it, so the pool is sized at run time. Each open stream holds a worker.
  const int threads = o.http_threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http.set_tcp_nodelay(true);
  // Its listen backlog is compiled in too, at 5: a burst of new connections overflows it and the
  // kernel's SYN cookies then reset some of them (64 clients connecting at once in
  // tests/server/load_test.sh). The listening socket passes through this hook before bind and
  // listen; Bind() listens on it again with kListenBacklog.
  http.set_socket_options([this](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_fd = sock;
  });
  http.set_keep_alive_max_count(1000);
  // httplib's stop() does not wake a worker waiting on an idle kept-alive connection, so this
  // also bounds how long Shutdown waits for idle clients (pooling proxies keep connections).
  http.set_keep_alive_timeout(5);
  http.set_read_timeout(30);
  http.set_write_timeout(30);
  http.set_payload_max_length(o.max_body_bytes);
  http.set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) { return PreRoute(req, res); });
  http.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    AddCorsHeaders(ctx.options, req, res);
  });
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) { return FillError(req, res); }));
  http.set_exception_handler(

      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("{} {}: {}", req.method, req.path, what);
        SendError(res, ApiError{.http_status = 500,
                                .message = "internal error while handling the request",
                                .type = "server_error"});
      });
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - request_start).count();
    ctx.metrics.RecordRequest(RouteLabel(req.path), res.status, seconds);
  });
  RegisterInfoRoutes(http, ctx);
  RegisterGenerationRoutes(http, ctx);
}

ApiServer::ApiServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->Configure();
}

ApiServer::~ApiServer() {
  if (impl_->http.is_running()) Shutdown(std::chrono::milliseconds(0));
}

void ApiServer::SetBackend(std::shared_ptr<Backend> backend) {
  impl_->ctx.set_backend(std::move(backend));
}

void ApiServer::SetBackendError(std::string message) {
  impl_->ctx.set_backend_error(std::move(message));
}

Status ApiServer::Bind() {
  const ServerOptions& o = impl_->ctx.options;
  if (o.port == 0) {
    bound_port_ = impl_->http.bind_to_any_port(o.host);
    if (bound_port_ < 0) return IoError(fmt::format("cannot listen on {} (any port)", o.host));
  } else if (impl_->http.bind_to_port(o.host, o.port)) {
    bound_port_ = o.port;
  } else {
    return IoError(
        fmt::format("cannot listen on {}:{}: the address is in use or not available "
                    "(choose another with --port / PORT)",
                    o.host, o.port));
  }
  // listen() again on a listening socket only changes its backlog (capped by somaxconn).
  if (impl_->listen_fd >= 0 && ::listen(impl_->listen_fd, kListenBacklog) != 0) {
    spdlog::warn("could not raise the listen backlog to {}", kListenBacklog);
  }
  return Status::Ok();
}

int ApiServer::port() const { return bound_port_; }

void ApiServer::Serve() { impl_->http.listen_after_bind(); }

void ApiServer::Shutdown(std::chrono::milliseconds drain) {
  std::call_once(impl_->shutdown_once, [&] {
    ServerContext& ctx = impl_->ctx;
    ctx.draining.store(true);
    auto deadline = std::chrono::steady_clock::now() + drain;
    while (ctx.in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ctx.cancelling.store(true);  // generations still running stop at their next poll
    auto hard = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (ctx.in_flight.load() > 0 && std::chrono::steady_clock::now() < hard) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    impl_->http.stop();
  });
}

}  // namespace medassist::server
