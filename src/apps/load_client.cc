#include "apps/load_client.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace medassist::apps {
namespace {

using json = nlohmann::json;

// A server that queues requests may send nothing for a long time before the first token
// (llama.cpp's server with more clients than slots, ANCHORS: TTFT p95 21 s at 16 clients); only a
// server that is truly stuck should hit this.
constexpr int kReadTimeoutSeconds = 600;
constexpr int kConnectTimeoutSeconds = 10;
constexpr size_t kErrorBodyChars = 300;  // of a non-200 body, quoted in the error

double Seconds(LoadClock::duration d) { return std::chrono::duration<double>(d).count(); }

// "http://h:p/x/" -> {"http://h:p", "/x"}.
std::pair<std::string, std::string> SplitUrl(const std::string& url) {
  size_t scheme = url.find("://");
  size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (path == std::string::npos) return {url, ""};
  std::string prefix = url.substr(path);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return {url.substr(0, path), prefix};
}

bool HasText(const json& delta, const char* field) {
  auto it = delta.find(field);
  return it != delta.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
}

}  // namespace

void ChatStreamParser::Feed(std::string_view bytes, LoadClock::time_point now) {
  pending_.append(bytes.data(), bytes.size());
  // Events end with a blank line; servers may send "\n\n" or "\r\n\r\n".
  for (;;) {
    size_t lf = pending_.find("\n\n");
    size_t crlf = pending_.find("\r\n\r\n");
    size_t end = std::min(lf, crlf);
    if (end == std::string::npos) return;
    size_t sep = end == crlf ? 4 : 2;
    std::string block = pending_.substr(0, end);
    pending_.erase(0, end + sep);
    OnEvent(block, now);
  }
}

// One event: "data:" lines joined by newlines; comment lines (": keep-alive") ignored.
void ChatStreamParser::OnEvent(std::string_view block, LoadClock::time_point now) {
  std::string data;
  bool has_data = false;
  while (!block.empty()) {
    size_t nl = block.find('\n');
    std::string_view line = block.substr(0, nl);
    block = nl == std::string_view::npos ? std::string_view() : block.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.substr(0, 5) != "data:") continue;
    line.remove_prefix(5);
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (has_data) data += '\n';
    data.append(line.data(), line.size());
    has_data = true;
  }
  if (has_data) OnData(data, now);
}

void ChatStreamParser::OnData(std::string_view data, LoadClock::time_point now) {
  if (data == "[DONE]") {
    done_ = true;
    return;
  }
  if (done_) return Fail("an event came after data: [DONE]");
  json event = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (event.is_discarded() || !event.is_object()) {
    return Fail("an event is not a JSON object: " + std::string(data.substr(0, kErrorBodyChars)));
  }
  if (event.contains("error")) return Fail("error event: " + event["error"].dump());
  if (auto usage = event.find("usage"); usage != event.end() && usage->is_object()) {
    t_.n_tokens_completion = usage->value("completion_tokens", -1);
    t_.n_tokens_prompt = usage->value("prompt_tokens", -1);
  }
  auto choices = event.find("choices");
  if (choices == event.end() || !choices->is_array()) return;
  for (const json& choice : *choices) {
    auto delta = choice.find("delta");
    if (delta == choice.end() || !delta->is_object()) continue;
    if (!HasText(*delta, "content") && !HasText(*delta, "reasoning_content")) continue;
    if (last_text_) {
      t_.gaps_s.push_back(Seconds(now - *last_text_));
    } else {
      t_.ttft_s = Seconds(now - sent_);
    }
    last_text_ = now;
    ++t_.n_chunks_text;
  }
}

void ChatStreamParser::Fail(std::string why) {
  if (t_.error.empty()) t_.error = std::move(why);
}

StreamTiming ChatStreamParser::Finish(LoadClock::time_point now) {
  t_.latency_s = Seconds(now - sent_);
  if (!done_) Fail("the stream ended without data: [DONE]");
  t_.ok = t_.error.empty();
  return std::move(t_);
}

std::string ChatRequestBody(const std::string& model, const std::string& system,
                            const std::string& user, int max_tokens) {
  json body = {{"messages", json::array({{{"role", "system"}, {"content", system}},
                                         {{"role", "user"}, {"content", user}}})},
               {"max_tokens", max_tokens},
               {"temperature", 0},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}}};
  if (!model.empty()) body["model"] = model;
  return body.dump();
}

LoadClient::LoadClient(const std::string& url, const std::string& api_key)
    : http_(SplitUrl(url).first), prefix_(SplitUrl(url).second) {
  http_.set_keep_alive(true);
  http_.set_connection_timeout(kConnectTimeoutSeconds, 0);
  http_.set_read_timeout(kReadTimeoutSeconds, 0);
  if (!api_key.empty()) headers_.emplace("Authorization", "Bearer " + api_key);
}

std::optional<std::string> LoadClient::FirstModelId() {
  httplib::Result res = http_.Get(prefix_ + "/v1/models", headers_);
  if (!res || res->status != 200) return std::nullopt;
  json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("data") || !body["data"].is_array()) return std::nullopt;
  for (const json& m : body["data"]) {
    if (m.is_object() && m.contains("id") && m["id"].is_string()) return m["id"].get<std::string>();
  }
  return std::nullopt;
}

StreamTiming LoadClient::StreamChat(const std::string& body) {
  httplib::Request req;
  req.method = "POST";
  req.path = prefix_ + "/v1/chat/completions";
  req.headers = headers_;
  req.headers.emplace("Content-Type", "application/json");
  req.headers.emplace("Accept", "text/event-stream");
  req.body = body;
  const LoadClock::time_point sent = LoadClock::now();
  ChatStreamParser parser(sent);
  int status = 0;
  std::string error_body;
  req.response_handler = [&](const httplib::Response& r) {
    status = r.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (status == 200) {
      parser.Feed(std::string_view(data, n), LoadClock::now());
    } else if (error_body.size() < kErrorBodyChars) {
      error_body.append(data, std::min(n, kErrorBodyChars - error_body.size()));
    }
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  bool sent_ok = http_.send(req, res, err);
  StreamTiming t = parser.Finish(LoadClock::now());
  if (!sent_ok) {
    t.ok = false;
    t.transport_error = status == 0;
    char where[160];
    std::snprintf(where, sizeof(where), " after %.2f s (%s, %d chunks with text)", t.latency_s,
                  status == 0 ? "no response" : ("HTTP " + std::to_string(status)).c_str(),
                  t.n_chunks_text);
    t.error = "transport: " + httplib::to_string(err) + where;
  } else if (status != 200) {
    t.ok = false;
    t.error = "HTTP " + std::to_string(status) + ": " + error_body;
  }
  return t;
}

}  // namespace medassist::apps
