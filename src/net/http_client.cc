#include "net/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <mutex>

#include <fmt/format.h>

namespace medassist::net {
namespace {

using Clock = std::chrono::steady_clock;

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One connection cache (and DNS and TLS session caches) for every request of the process, so
// that a remote backend's requests reuse kept-alive connections instead of paying a TCP and TLS
// handshake each (tens of milliseconds to a cloud endpoint). libcurl serialises access to each
// shared part through these locks.
class SharedCaches {
 public:
  SharedCaches() : share_(curl_share_init()) {
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, Lock);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, Unlock);
    curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  CURLSH* get() const { return share_; }
  static SharedCaches& Instance() {
    static SharedCaches* caches = new SharedCaches();  // never destroyed: used until exit
    return *caches;
  }

 private:
  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<SharedCaches*>(user)->MutexFor(data).lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<SharedCaches*>(user)->MutexFor(data).unlock();
  }
  std::mutex& MutexFor(curl_lock_data data) {
    return mutexes_[static_cast<size_t>(data) % kMutexes];
  }
  static constexpr size_t kMutexes = 8;
  CURLSH* share_;
  std::mutex mutexes_[kMutexes];
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == '\r' || s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// One transfer's state, shared with libcurl's callbacks.
struct Transfer {
  const HttpCallbacks* callbacks = nullptr;
  HttpResponse response;
  bool headers_reported = false;
  bool aborted_by_caller = false;
  Clock::time_point last_activity = Clock::now();
  std::FILE* upload = nullptr;
  int64_t upload_left = 0;

  // A new response starts with its status line: forget the headers of the one before (a
  // redirect, a 100 Continue).
  void OnHeaderLine(std::string_view line) {
    last_activity = Clock::now();
    if (line.starts_with("HTTP/")) {
      response.headers.clear();
      return;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;  // the blank line that ends the headers
    response.headers.emplace_back(Lower(Trim(line.substr(0, colon))),
                                  std::string(Trim(line.substr(colon + 1))));
  }
};

size_t HeaderCallback(char* data, size_t size, size_t n, void* user) {
  static_cast<Transfer*>(user)->OnHeaderLine(std::string_view(data, size * n));
  return size * n;
}

// The status and headers of the response whose body starts now (redirects are followed before
// any body byte of the final response reaches us).
bool ReportHeaders(Transfer& t, CURL* easy) {
  if (t.headers_reported) return true;
  t.headers_reported = true;
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  t.response.status = static_cast<int>(status);
  if (t.callbacks->on_headers && !t.callbacks->on_headers(t.response.status, t.response.headers)) {
    t.aborted_by_caller = true;
    return false;
  }
  return true;
}

struct BodyContext {
  Transfer* transfer;
  CURL* easy;
};

size_t BodyCallback(char* data, size_t size, size_t n, void* user) {
  auto* ctx = static_cast<BodyContext*>(user);
  Transfer& t = *ctx->transfer;
  t.last_activity = Clock::now();
  const size_t bytes = size * n;
  if (!ReportHeaders(t, ctx->easy)) return 0;  // 0 aborts with CURLE_WRITE_ERROR
  if (t.callbacks->on_body) {
    if (!t.callbacks->on_body(std::string_view(data, bytes))) {
      t.aborted_by_caller = true;
      return 0;
    }
  } else {
    t.response.body.append(data, bytes);
  }
  return bytes;
}

size_t ReadCallback(char* buffer, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t want = std::min<int64_t>(static_cast<int64_t>(size * n), t->upload_left);
  size_t got = want == 0 ? 0 : std::fread(buffer, 1, want, t->upload);
  if (got < want && std::ferror(t->upload)) return CURL_READFUNC_ABORT;
  t->upload_left -= static_cast<int64_t>(got);
  t->last_activity = Clock::now();
  return got;
}

int ProgressCallback(void* user, curl_off_t dl_total, curl_off_t dl_now, curl_off_t ul_total,
                     curl_off_t ul_now) {
  auto* t = static_cast<Transfer*>(user);
  if (t->callbacks->on_progress) {
    if (ul_total > 0) {
      t->callbacks->on_progress(ul_now, ul_total);
    } else {
      t->callbacks->on_progress(dl_now, dl_total > 0 ? dl_total : -1);
    }
  }
  return 0;
}

HttpFailure FailureOf(CURLcode code) {
  switch (code) {
    case CURLE_OK:
      return HttpFailure::kNone;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return HttpFailure::kConnect;
    case CURLE_OPERATION_TIMEDOUT:
      return HttpFailure::kTimeout;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return HttpFailure::kBadRequest;
    default:
      return HttpFailure::kTransfer;
  }
}

// CURL and CURLM are both `void`, so each handle kind gets its own deleter.
struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct CurlDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// Opens the upload file region; false with the reason in *error.
bool OpenUpload(const HttpRequest& r, Transfer& t, std::unique_ptr<std::FILE, CurlDeleter>& file,
                std::string* error) {
  file.reset(std::fopen(r.upload_file.c_str(), "rb"));
  if (!file || std::fseek(file.get(), 0, SEEK_END) != 0) {
    *error = fmt::format("cannot open {} for upload", r.upload_file);
    return false;
  }
  const int64_t file_size = std::ftell(file.get());
  if (r.upload_offset < 0 || r.upload_offset > file_size ||
      (r.upload_size >= 0 && r.upload_offset + r.upload_size > file_size)) {
    *error = fmt::format("upload region {}+{} is outside {} ({} bytes)", r.upload_offset,
                         r.upload_size, r.upload_file, file_size);
    return false;
  }
  std::fseek(file.get(), r.upload_offset, SEEK_SET);
  t.upload = file.get();
  t.upload_left = r.upload_size >= 0 ? r.upload_size : file_size - r.upload_offset;
  return true;
}

void SetMethodAndBody(CURL* easy, const HttpRequest& r, Transfer& t) {
  if (r.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (r.method != "GET") {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
  if (t.upload != nullptr) {
    curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, ReadCallback);
    curl_easy_setopt(easy, CURLOPT_READDATA, &t);
    curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(t.upload_left));
    // CURLOPT_UPLOAD means PUT; another method (POST) keeps its name through CUSTOMREQUEST.
  } else if (r.method == "POST" || r.method == "PUT" || r.method == "PATCH" || !r.body.empty()) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, r.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
  }
}

// Runs the transfer on a multi handle so that the caller's cancel flag and the idle timeout are
// checked every 50 ms, whatever the server does.
CURLcode RunTransfer(CURL* easy, const HttpRequest& r, Transfer& t, std::string* why) {
  std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
  curl_multi_add_handle(multi.get(), easy);
  const Clock::time_point start = Clock::now();
  CURLcode result = CURLE_OK;
  for (int running = 1; running > 0;) {
    if (curl_multi_perform(multi.get(), &running) != CURLM_OK) {
      result = CURLE_FAILED_INIT;
      break;
    }
    if (running == 0) break;
    curl_multi_poll(multi.get(), nullptr, 0, 50, nullptr);
    const Clock::time_point now = Clock::now();
    if (t.callbacks->cancel != nullptr && t.callbacks->cancel->load()) {
      t.aborted_by_caller = true;
      result = CURLE_ABORTED_BY_CALLBACK;
      break;
    }
    if (now - t.last_activity > r.idle_timeout) {
      *why = fmt::format("no data for {} ms", r.idle_timeout.count());
      result = CURLE_OPERATION_TIMEDOUT;
      break;
    }
    if (r.total_timeout.count() > 0 && now - start > r.total_timeout) {
      *why = fmt::format("not done within {} ms", r.total_timeout.count());
      result = CURLE_OPERATION_TIMEDOUT;
      break;
    }
  }
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
    if (msg->msg == CURLMSG_DONE) result = msg->data.result;
  }
  curl_multi_remove_handle(multi.get(), easy);
  return result;
}

}  // namespace

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  const std::string key = Lower(name);
  for (const auto& [k, v] : headers) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::string RedactUrl(std::string_view url) {
  std::string out(url);
  size_t scheme = out.find("://");
  size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t path_start = out.find_first_of("/?#", host_start);
  size_t at = out.find('@', host_start);
  if (at != std::string::npos && (path_start == std::string::npos || at < path_start)) {
    out.erase(host_start, at + 1 - host_start);
  }
  size_t query = out.find_first_of("?#");
  if (query != std::string::npos) out.erase(query);
  return out;
}

HttpResult SendHttp(const HttpRequest& request, const HttpCallbacks& callbacks) {
  InitCurlOnce();
  HttpResult result;
  Transfer t;
  t.callbacks = &callbacks;
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  std::unique_ptr<std::FILE, CurlDeleter> upload_file;
  if (!request.upload_file.empty() && !OpenUpload(request, t, upload_file, &result.error)) {
    result.failure = HttpFailure::kBadRequest;
    return result;
  }
  std::unique_ptr<curl_slist, CurlDeleter> header_list;
  for (const auto& [name, value] : request.headers) {
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    header_list.reset(curl_slist_append(header_list.release(), line.c_str()));
  }
  // libcurl would add "Expect: 100-continue" to large bodies and wait for the answer.
  header_list.reset(curl_slist_append(header_list.release(), "Expect:"));
  CURL* e = easy.get();
  curl_easy_setopt(e, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(e, CURLOPT_SHARE, SharedCaches::Instance().get());
  if (request.reuse_connection) {
    curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, 4L);
  } else {
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);  // not taken from the pool
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);   // and closed after this request
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, static_cast<long>(request.max_redirects));
  // Credentials set by the caller (Authorization) are not sent to another host after a redirect:
  // libcurl's default, kept explicitly because the Hub redirects LFS files to a CDN.
  curl_easy_setopt(e, CURLOPT_UNRESTRICTED_AUTH, 0L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, HeaderCallback);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
  BodyContext body_ctx{&t, e};
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, BodyCallback);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &body_ctx);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, callbacks.on_progress ? 0L : 1L);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, ProgressCallback);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, &t);
  std::string range;
  if (request.range_start >= 0) {
    range = fmt::format("{}-", request.range_start);
    curl_easy_setopt(e, CURLOPT_RANGE, range.c_str());
  }
  SetMethodAndBody(e, request, t);

  std::string why;
  CURLcode code = RunTransfer(e, request, t, &why);
  if (code == CURLE_OK) {
    ReportHeaders(t, e);  // a body-less answer (HEAD, 204) reports here
  } else if (!t.headers_reported) {
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    t.response.status = static_cast<int>(status);
  }
  char* final_url = nullptr;
  curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &final_url);
  if (final_url != nullptr) t.response.effective_url = final_url;
  result.response = std::move(t.response);
  if (t.aborted_by_caller) {
    result.failure = HttpFailure::kCancelled;
    result.error = "cancelled";
    return result;
  }
  result.failure = FailureOf(code);
  if (result.failure != HttpFailure::kNone) {
    result.error = fmt::format("{} {}: {}", request.method, RedactUrl(request.url),
                               why.empty() ? curl_easy_strerror(code) : why);
  }
  return result;
}

}  // namespace medassist::net
