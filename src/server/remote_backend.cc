#include "server/remote_backend.h"

#include <deque>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/http_client.h"
#include "net/sse.h"
#include "runtime/stop_matcher.h"

namespace medassist::server {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct ProbeResult {
  std::string state = "unknown";  // ok, loading, down, unknown
  std::string error;
};

struct RemoteBackend::Shared {
  explicit Shared(const RemoteBackendOptions& o)
      : options(o),
        protocol(o.protocol == RemoteProtocolKind::kTgi
                     ? MakeTgiProtocol({.chat_template = o.chat_template})
                     : MakeOpenAiProtocol({.model = o.model})),
        pool(o.urls, o.pool) {}

  net::Headers UpstreamHeaders(bool stream) const {
    net::Headers h = {{"Content-Type", "application/json"},
                      {"Accept", stream ? "text/event-stream" : "application/json"}};
    if (!options.token.empty()) h.emplace_back("Authorization", "Bearer " + options.token);
    return h;
  }

  const RemoteBackendOptions options;
  const std::unique_ptr<RemoteProtocol> protocol;
  UpstreamPool pool;
  std::atomic<int32_t> pending{0};
  std::atomic<int64_t> retries{0}, cold_start_waits{0}, broken_streams{0};
  mutable std::mutex probe_mutex;
  std::vector<ProbeResult> probes = std::vector<ProbeResult>(options.urls.size());
};

namespace {

// How one attempt at the upstream ended, before its answer started.
enum class AttemptEnd {
  kStarted,    // the answer started (and was read to its end): never retried
  kRetry,      // nothing started and it may work on a retry or another upstream
  kColdStart,  // the endpoint is loading: wait `estimated_time`, then retry
  kFatal,      // the answer to the client is this error
};

struct Attempt {
  AttemptEnd end = AttemptEnd::kFatal;
  Status status = {};
  double estimated_seconds = 0;
};

class RemoteStream : public BackendStream {
 public:
  RemoteStream(std::shared_ptr<RemoteBackend::Shared> shared, BackendRequest request,
               UpstreamCall call)
      : shared_(std::move(shared)),
        request_(std::move(request)),
        call_(std::move(call)),
        stop_(request_.stop) {
    request_.abandoned = nullptr;  // refers to the route's stack; only Start may call it
    shared_->pending.fetch_add(1);
    worker_ = std::thread([this] { Run(); });
  }
  ~RemoteStream() override {
    cancel_ = true;
    worker_.join();
    shared_->pending.fetch_sub(1);
  }

  // Waits until the answer started (nullopt) or failed before it (the error).
  std::optional<Status> WaitStarted(const std::function<bool()>& abandoned) {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (phase_ == Phase::kStreaming) return std::nullopt;
      if (phase_ == Phase::kFailed) return failure_;
      if (abandoned && abandoned()) {
        cancel_ = true;
        return Unavailable("the request was abandoned before the upstream answered");
      }
      cv_.wait_for(lock, milliseconds(50));
    }
  }

  WaitResult Next(BackendEvent* event, milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mutex_);
    if (ended_) return WaitResult::kEnded;
    if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return WaitResult::kTimeout;
    *event = std::move(events_.front());
    events_.pop_front();
    if (event->finished) ended_ = true;
    return WaitResult::kEvent;
  }
  void Cancel() override { cancel_ = true; }
  int32_t n_prompt_tokens() const override { return n_prompt_.load(); }
  int32_t n_generated_tokens() const override {
    const int32_t reported = n_generated_reported_.load();
    return reported >= 0 ? reported : n_generated_.load();
  }

 private:
  enum class Phase { kConnecting, kStreaming, kFailed };

  void Run() {
    Status s = RunAttempts();
    if (!s.ok()) SetPhase(Phase::kFailed, std::move(s));
  }

  Status RunAttempts();
  Attempt AttemptOnce(size_t upstream);
  Attempt Classify(size_t upstream, const net::HttpResult& r, const std::string& body);
  void FinishStarted(size_t upstream, const net::HttpResult& r);
  bool OnData(std::string_view data);
  bool Emit(UpstreamChunk c);
  void Push(BackendEvent e);
  void PushError(std::string message, int http_status = 502);
  bool SleepUnlessCancelled(milliseconds d);

  void SetPhase(Phase p, Status failure = {}) {
    std::lock_guard<std::mutex> lock(mutex_);
    phase_ = p;
    failure_ = std::move(failure);
    cv_.notify_all();
  }

  std::shared_ptr<RemoteBackend::Shared> shared_;
  BackendRequest request_;
  UpstreamCall call_;
  std::thread worker_;
  std::atomic<bool> cancel_{false};
  std::atomic<int32_t> n_prompt_{0}, n_generated_{0};
  // The upstream's own count (usage), which beats counting text pieces.
  std::atomic<int32_t> n_generated_reported_{-1};

  std::mutex mutex_;
  std::condition_variable cv_;
  Phase phase_ = Phase::kConnecting;
  Status failure_;
  std::deque<BackendEvent> events_;
  bool ended_ = false;

  // The worker's own state while reading an answer.
  runtime::StopMatcher stop_;
  net::SseParser parser_;
  std::string whole_body_;                               // a non-streamed answer
  std::optional<runtime::FinishReason> pending_finish_;  // held until the usage chunk is read
  bool finished_ = false;                                // the final event was pushed
  Status stream_error_;
};

Status RemoteStream::RunAttempts() {
  const RemoteBackendOptions& o = shared_->options;
  const Clock::time_point cold_deadline = Clock::now() + o.cold_start_max_wait;
  std::vector<size_t> tried;
  int retries = 0;
  for (;;) {
    if (cancel_) return Unavailable("cancelled");
    std::optional<size_t> upstream = shared_->pool.Pick(tried);
    if (!upstream) {
      return Unavailable(fmt::format(
          "every upstream is failing (circuit breaker open for about {} s more); the last error "
          "is in /health",
          (shared_->pool.TimeUntilUsable().count() + 999) / 1000));
    }
    tried.push_back(*upstream);
    Attempt a = AttemptOnce(*upstream);
    switch (a.end) {
      case AttemptEnd::kStarted:
        return {};
      case AttemptEnd::kFatal:
        return a.status;
      case AttemptEnd::kColdStart: {
        const Clock::time_point now = Clock::now();
        if (now >= cold_deadline) {
          return Unavailable(fmt::format(
              "the upstream is still loading (it estimates {:.0f} s more); waited {} s, the "
              "limit (--remote-cold-start-wait)",
              a.estimated_seconds, o.cold_start_max_wait.count() / 1000));
        }
        ++shared_->cold_start_waits;
        auto wait = milliseconds(static_cast<int64_t>(a.estimated_seconds * 1000));
        wait = std::clamp(wait, milliseconds(100), milliseconds(10'000));
        wait = std::min(wait, std::chrono::duration_cast<milliseconds>(cold_deadline - now));
        spdlog::info("upstream loading (estimated {:.1f} s); retrying in {} ms",
                     a.estimated_seconds, wait.count());
        if (!SleepUnlessCancelled(wait)) return Unavailable("cancelled");
        tried.clear();
        break;
      }
      case AttemptEnd::kRetry: {
        if (++retries > o.max_retries) return a.status;
        ++shared_->retries;
        // Fail over at once when another upstream has not been tried; back off otherwise.
        if (tried.size() < shared_->pool.size()) break;
        milliseconds wait = shared_->pool.BackoffDelay(retries);
        spdlog::warn("upstream attempt failed ({}); retry {} of {} in {} ms", a.status.message(),
                     retries, o.max_retries, wait.count());
        if (!SleepUnlessCancelled(wait)) return Unavailable("cancelled");
        tried.clear();
        break;
      }
    }
  }
}

Attempt RemoteStream::AttemptOnce(size_t upstream) {
  const RemoteBackendOptions& o = shared_->options;
  net::HttpRequest req{
      .method = "POST",
      .url = shared_->pool.url(upstream) + call_.path,
      .headers = shared_->UpstreamHeaders(call_.stream),
      .body = call_.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
      .connect_timeout = o.connect_timeout,
      .idle_timeout = o.idle_timeout};
  bool started = false;
  std::string error_body;
  net::HttpCallbacks callbacks{
      .on_headers =
          [&](int status, const net::Headers&) {
            started = status >= 200 && status < 300;
            if (started) SetPhase(Phase::kStreaming);
            return true;
          },
      .on_body =
          [&](std::string_view chunk) {
            if (!started) {
              if (error_body.size() < 65536) error_body.append(chunk);
              return true;
            }
            if (!call_.stream) {
              whole_body_.append(chunk);
              return whole_body_.size() < (256u << 20);
            }
            return parser_.Push(chunk, [&](const net::SseEvent& e) { return OnData(e.data); });
          },
      .cancel = &cancel_};
  net::HttpResult r = net::SendHttp(req, callbacks);
  if (!started) return Classify(upstream, r, error_body);
  FinishStarted(upstream, r);
  return {.end = AttemptEnd::kStarted};
}

Attempt RemoteStream::Classify(size_t upstream, const net::HttpResult& r, const std::string& body) {
  UpstreamPool& pool = shared_->pool;
  const std::string where = net::RedactUrl(pool.url(upstream));
  switch (r.failure) {
    case net::HttpFailure::kNone:
      break;
    case net::HttpFailure::kCancelled:
      return {.status = Unavailable("cancelled")};
    case net::HttpFailure::kConnect:
    case net::HttpFailure::kTransfer:
      pool.ReportFailure(upstream, r.error);
      return {.end = AttemptEnd::kRetry,
              .status = Unavailable(fmt::format("cannot reach the upstream: {}", r.error))};
    case net::HttpFailure::kTimeout:
      pool.ReportFailure(upstream, r.error);
      return {.status = DeadlineExceeded(fmt::format("the upstream did not answer: {}", r.error))};
    case net::HttpFailure::kBadRequest:
      return {.status = UpstreamError(fmt::format("bad upstream request: {}", r.error))};
  }
  const int status = r.response.status;
  const std::string message = UpstreamErrorMessage(body);
  if (status == 503) {
    if (std::optional<double> eta = EstimatedTimeSeconds(body)) {
      return {.end = AttemptEnd::kColdStart, .estimated_seconds = *eta};
    }
  }
  if (status == 502 || status == 503 || status == 504) {
    pool.ReportFailure(upstream, fmt::format("HTTP {}: {}", status, message));
    return {.end = AttemptEnd::kRetry,
            .status = Unavailable(
                fmt::format("the upstream {} answered {}: {}", where, status, message))};
  }
  if (status == 429) {
    return {.end = AttemptEnd::kRetry,
            .status = ResourceExhausted(fmt::format("the upstream is overloaded: {}", message))};
  }
  pool.ReportSuccess(upstream);  // it answered: reachable, even if it disliked the request
  if (status == 401 || status == 403) {
    return {.status = UpstreamError(fmt::format(
                "the upstream refused our credentials (HTTP {}); check HF_API_TOKEN", status))};
  }
  if (status == 404 || status == 405) {
    return {.status = UpstreamError(
                fmt::format("the upstream has no {} (HTTP {}); check HF_ENDPOINT_URL and "
                            "--remote-protocol",
                            call_.path, status))};
  }
  if (status >= 400 && status < 500) {
    return {.status = InvalidArgument(
                fmt::format("the upstream refused the request (HTTP {}): {}", status, message))};
  }
  pool.ReportFailure(upstream, fmt::format("HTTP {}: {}", status, message));
  return {.status =
              UpstreamError(fmt::format("the upstream failed (HTTP {}): {}", status, message))};
}

// The answer started: whatever happens now ends the stream with a final event.
void RemoteStream::FinishStarted(size_t upstream, const net::HttpResult& r) {
  if (finished_) {
    shared_->pool.ReportSuccess(upstream);
    return;
  }
  if (!stream_error_.ok()) {
    shared_->pool.ReportFailure(upstream, std::string(stream_error_.message()));
    return PushError(stream_error_.message());
  }
  if (r.failure == net::HttpFailure::kCancelled) {
    return Push({.finished = true, .reason = runtime::FinishReason::kCancelled});
  }
  if (r.failure != net::HttpFailure::kNone) {
    ++shared_->broken_streams;
    shared_->pool.ReportFailure(upstream, r.error);
    return PushError(fmt::format("the upstream's stream broke after {} tokens: {}",
                                 n_generated_.load(), r.error));
  }
  shared_->pool.ReportSuccess(upstream);
  if (!call_.stream) {
    std::vector<UpstreamChunk> chunks;
    Status s = shared_->protocol->ParseComplete(request_, whole_body_, &chunks);
    if (!s.ok()) return PushError(s.message());
    for (UpstreamChunk& c : chunks) {
      if (!Emit(std::move(c))) return;
    }
  }
  if (finished_) return;
  if (pending_finish_) {
    return Push({.text = stop_.Flush(), .finished = true, .reason = *pending_finish_});
  }
  ++shared_->broken_streams;
  PushError(fmt::format("the upstream's stream ended after {} tokens without its final event",
                        n_generated_.load()));
}

bool RemoteStream::OnData(std::string_view data) {
  std::vector<UpstreamChunk> chunks;
  Status s = shared_->protocol->ParseStreamData(data, &chunks);
  if (!s.ok()) {
    stream_error_ = s;
    return false;
  }
  for (UpstreamChunk& c : chunks) {
    if (!Emit(std::move(c))) return false;
  }
  return true;
}

// One chunk -> one event; false stops reading (a final event was pushed).
bool RemoteStream::Emit(UpstreamChunk c) {
  if (c.n_prompt_tokens >= 0) n_prompt_ = c.n_prompt_tokens;
  if (c.n_generated_tokens >= 0) n_generated_reported_ = c.n_generated_tokens;
  if (!c.error.empty()) {
    const bool refused = c.error_is_validation && n_generated_.load() == 0;
    PushError(
        (refused ? "the upstream refused the request: " : "the upstream reported an error: ") +
            c.error,
        refused ? 400 : 502);
    return false;
  }
  if (pending_finish_) return true;  // after the finish only usage counts
  runtime::StopMatcher::Step step = stop_.Feed(c.text);
  if (c.has_token || !c.text.empty()) ++n_generated_;
  BackendEvent e{.text = std::move(step.text),
                 .has_token = c.has_token,
                 .token_bytes = std::move(c.token_bytes),
                 .logprob = c.logprob,
                 .top_logprobs = std::move(c.top_logprobs),
                 .prompt_tokens = std::move(c.prompt_tokens)};
  if (step.stopped) {
    e.finished = true;
    e.reason = runtime::FinishReason::kStop;
    Push(std::move(e));
    return false;
  }
  if (c.finished) pending_finish_ = c.reason;
  if (!e.text.empty() || e.has_token || !e.prompt_tokens.empty()) Push(std::move(e));
  return true;
}

void RemoteStream::Push(BackendEvent e) {
  if (e.finished) finished_ = true;
  std::lock_guard<std::mutex> lock(mutex_);
  events_.push_back(std::move(e));
  cv_.notify_all();
}

void RemoteStream::PushError(std::string message, int http_status) {
  Push({.finished = true,
        .reason = runtime::FinishReason::kError,
        .error = std::move(message),
        .error_status = http_status});
}

bool RemoteStream::SleepUnlessCancelled(milliseconds d) {
  const Clock::time_point until = Clock::now() + d;
  while (Clock::now() < until) {
    if (cancel_) return false;
    std::this_thread::sleep_for(std::min(milliseconds(50), d));
  }
  return !cancel_;
}

}  // namespace

RemoteBackend::RemoteBackend(RemoteBackendOptions options)
    : options_(std::move(options)), shared_(std::make_shared<Shared>(options_)) {}

Result<std::unique_ptr<RemoteBackend>> RemoteBackend::Create(RemoteBackendOptions options) {
  if (options.urls.empty()) {
    return InvalidArgument("the remote backend needs an upstream URL (HF_ENDPOINT_URL)");
  }
  for (std::string& url : options.urls) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    if (!url.starts_with("http://") && !url.starts_with("https://")) {
      return InvalidArgument(fmt::format("upstream URL '{}' must start with http:// or https://",
                                         net::RedactUrl(url)));
    }
    // An OpenAI base URL is often given with its /v1; the protocol adds the /v1 itself.
    if (options.protocol == RemoteProtocolKind::kOpenAi && url.ends_with("/v1")) {
      url.resize(url.size() - 3);
    }
  }
  std::unique_ptr<RemoteBackend> b(new RemoteBackend(std::move(options)));
  if (b->options_.health_interval.count() > 0) {
    b->prober_ = std::thread([raw = b.get()] { raw->ProbeLoop(); });
  }
  return b;
}

RemoteBackend::~RemoteBackend() {
  {
    std::lock_guard<std::mutex> lock(prober_mutex_);
    stopping_ = true;
  }
  prober_wake_.notify_all();
  if (prober_.joinable()) prober_.join();
}

Result<std::unique_ptr<BackendStream>> RemoteBackend::Start(const BackendRequest& request) {
  ASSIGN_OR_RETURN(UpstreamCall call, shared_->protocol->BuildCall(request));
  if (shared_->pending.load() >= options_.max_pending) {
    return ResourceExhausted(
        fmt::format("the server is at capacity ({} requests in progress); retry shortly",
                    options_.max_pending));
  }
  auto stream = std::make_unique<RemoteStream>(shared_, request, std::move(call));
  if (std::optional<Status> failed = stream->WaitStarted(request.abandoned)) return *failed;
  return std::unique_ptr<BackendStream>(std::move(stream));
}

void RemoteBackend::ProbeLoop() {
  std::unique_lock<std::mutex> lock(prober_mutex_);
  while (!stopping_) {
    lock.unlock();
    ProbeNow();
    lock.lock();
    prober_wake_.wait_for(lock, options_.health_interval, [&] { return stopping_; });
  }
}

void RemoteBackend::ProbeNow() {
  for (size_t i = 0; i < options_.urls.size(); ++i) {
    net::HttpRequest req{.url = options_.urls[i] + shared_->protocol->health_path(),
                         .headers = shared_->UpstreamHeaders(false),
                         .connect_timeout = milliseconds(2000),
                         .idle_timeout = milliseconds(5000)};
    net::HttpResult r = net::SendHttp(req);
    ProbeResult p;
    const int status = r.response.status;
    if (!r.ok()) {
      p = {.state = "down", .error = r.error};
    } else if (status >= 200 && status < 300) {
      p.state = "ok";
    } else if (status == 503 && EstimatedTimeSeconds(r.response.body)) {
      p.state = "loading";  // scaled to zero: a request will wake it
    } else {
      p = {.state = "down",
           .error = fmt::format("health answered {}: {}", status,
                                UpstreamErrorMessage(r.response.body))};
    }
    std::lock_guard<std::mutex> lock(shared_->probe_mutex);
    shared_->probes[i] = std::move(p);
  }
}

BackendHealth RemoteBackend::Health() const {
  BackendHealth h;
  std::vector<UpstreamStatus> statuses = shared_->pool.Statuses();
  std::lock_guard<std::mutex> lock(shared_->probe_mutex);
  int usable = 0, ok = 0, loading = 0;
  for (size_t i = 0; i < statuses.size(); ++i) {
    const UpstreamStatus& s = statuses[i];
    const ProbeResult& p = shared_->probes[i];
    const bool breaker_lets_through = s.state != BreakerState::kOpen;
    const bool alive = p.state != "down";
    if (breaker_lets_through && alive) ++usable;
    if (p.state == "ok" && breaker_lets_through) ++ok;
    if (p.state == "loading") ++loading;
    h.upstreams.push_back({.url = s.url,
                           .state = p.state,
                           .breaker = BreakerStateName(s.state),
                           .last_error = p.error.empty() ? s.last_error : p.error,
                           .requests = s.requests,
                           .failures = s.failures});
  }
  h.ready = usable > 0;
  if (!h.ready) {
    h.state = "unavailable";
    h.detail = "no upstream is reachable; see `upstreams`";
  } else if (ok == static_cast<int>(statuses.size())) {
    h.state = "ok";
  } else if (ok == 0 && loading > 0) {
    h.state = "loading";
  } else {
    h.state = "degraded";
  }
  return h;
}

std::string RemoteBackend::MetricsText() const {
  std::string out;
  auto counter = [&](const char* name, const char* help, int64_t value) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, value);
  };
  counter("medassist_upstream_retries_total", "Upstream attempts retried before an answer.",
          shared_->retries.load());
  counter("medassist_upstream_cold_start_waits_total",
          "Waits for a loading (scaled-to-zero) upstream.", shared_->cold_start_waits.load());
  counter("medassist_upstream_broken_streams_total",
          "Upstream answers that broke after they started.", shared_->broken_streams.load());
  // One series per upstream, labelled with its (redacted) URL.
  const std::vector<UpstreamStatus> statuses = shared_->pool.Statuses();
  auto per_upstream = [&](const char* name, const char* type, const char* help,
                          int64_t (*value)(const UpstreamStatus&)) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n", name, help, type);
    for (const UpstreamStatus& s : statuses) {
      out += fmt::format("{}{{upstream=\"{}\"}} {}\n", name, s.url, value(s));
    }
  };
  per_upstream("medassist_upstream_requests_total", "counter", "Requests sent to each upstream.",
               [](const UpstreamStatus& s) { return s.requests; });
  per_upstream("medassist_upstream_failures_total", "counter", "Failed requests to each upstream.",
               [](const UpstreamStatus& s) { return s.failures; });
  per_upstream("medassist_upstream_breaker_open", "gauge",
               "1 while the upstream's circuit breaker is open.", [](const UpstreamStatus& s) {
                 return static_cast<int64_t>(s.state == BreakerState::kOpen ? 1 : 0);
               });
  return out;
}

}  // namespace medassist::server
