// An HTTP(S) client on libcurl for the remote backends and the Hugging Face Hub client. One call =
// one request; the body can be collected or streamed to a callback as it arrives; the caller can
// abort at any time (a client gone, shutdown). libcurl stays inside net/.
//
//   HttpRequest req{.method = "POST", .url = "http://127.0.0.1:8080/generate_stream"};
//   req.headers.push_back({"Content-Type", "application/json"});
//   req.body = R"({"inputs":"Hi"})";
//   Result<HttpResponse> r = SendHttp(req, {.on_body = [](std::string_view chunk) {
//     ...; return true; }});   // false aborts the transfer (status Cancelled)
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace medassist::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, POST, PUT, DELETE
  std::string url = {};
  Headers headers = {};
  std::string body = {};  // sent as is (POST / PUT)
  // A file region sent as the body instead of `body` (large uploads, read as they are sent).
  std::string upload_file = {};
  int64_t upload_offset = 0;
  int64_t upload_size = -1;  // -1: to the end of the file
  // The connection (TCP + TLS) must be up within this.
  std::chrono::milliseconds connect_timeout{10'000};
  // No byte received for this long (headers or body) ends the transfer: DeadlineExceeded.
  std::chrono::milliseconds idle_timeout{60'000};
  // The whole transfer; 0 = no limit.
  std::chrono::milliseconds total_timeout{0};
  bool follow_redirects = true;  // headers and status returned are those of the last response
  int max_redirects = 10;
  // Keep the connection for later requests to the same host (a process-wide pool), instead of
  // closing it after this one: saves the TCP and TLS handshakes of a remote backend's requests.
  // A pooled connection idle for over 4 s is not reused (servers close idle ones: 5 s is common).
  bool reuse_connection = false;
  // >= 0: ask for the bytes from this offset on ("Range: bytes=N-"); the server may ignore it
  // (status 200 instead of 206).
  int64_t range_start = -1;
};

struct HttpResponse {
  int status = 0;
  Headers headers = {};            // of the final response; names lower-cased, in arrival order
  std::string body = {};           // empty when HttpCallbacks::on_body took the body
  std::string effective_url = {};  // after redirects
  // The first header with this name (case-insensitive); nullopt when absent.
  std::optional<std::string> Header(std::string_view name) const;
};

struct HttpCallbacks {
  // Called once the final response's status and headers are known, before any body byte;
  // returning false aborts (Cancelled). Redirect responses are not reported when followed.
  std::function<bool(int status, const Headers& headers)> on_headers = {};
  // Called with each piece of the body as it arrives (then HttpResponse::body stays empty);
  // returning false aborts (Cancelled).
  std::function<bool(std::string_view chunk)> on_body = {};
  // Polled about every 50 ms while waiting: true aborts (Cancelled).
  const std::atomic<bool>* cancel = nullptr;
  // Upload / download progress: (bytes done, bytes total or -1).
  std::function<void(int64_t done, int64_t total)> on_progress = {};
};

// What a failure was, for the caller's retry decisions.
enum class HttpFailure {
  kNone,
  kConnect,     // DNS, refused, unreachable, connect timeout: nothing reached the server
  kTimeout,     // idle or total timeout after connecting
  kTransfer,    // the connection broke (reset, closed mid-body, bad TLS)
  kCancelled,   // the caller aborted
  kBadRequest,  // the URL or request is malformed (never retry)
};

// The result of SendHttp. An HTTP error status (4xx, 5xx) is not a failure: the response is
// returned with failure kNone.
struct HttpResult {
  HttpFailure failure = HttpFailure::kNone;
  std::string error = {};      // failure != kNone: what went wrong, for a log (never holds secrets)
  HttpResponse response = {};  // failure kTransfer / kTimeout / kCancelled: what arrived so far
  bool ok() const { return failure == HttpFailure::kNone; }
};

HttpResult SendHttp(const HttpRequest& request, const HttpCallbacks& callbacks = {});

// "https://user:pass@host:8080/a?b" -> "https://host:8080/a" (for logs and error messages).
std::string RedactUrl(std::string_view url);

}  // namespace medassist::net
