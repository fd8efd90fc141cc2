#include "test_server.h"

#include <gtest/gtest.h>

#include "core/thread_pool.h"
#include "runtime/loaded_model.h"
#include "support/test_support.h"

namespace medassist::server::testing {

TestServer::TestServer(ServerOptions options, std::shared_ptr<Backend> backend) {
  options.host = "127.0.0.1";
  options.port = 0;
  server_ = std::make_unique<ApiServer>(std::move(options));
  Status s = server_->Bind();
  EXPECT_TRUE(s.ok()) << s.message();
  if (backend) server_->SetBackend(std::move(backend));
  thread_ = std::thread([this] { server_->Serve(); });
}

TestServer::~TestServer() { Stop(); }

void TestServer::Stop(std::chrono::milliseconds drain) {
  if (!thread_.joinable()) return;
  server_->Shutdown(drain);
  thread_.join();
}

httplib::Client TestServer::Client() const {
  httplib::Client c("127.0.0.1", port());
  c.set_read_timeout(60);
  return c;
}

std::shared_ptr<LocalBackend> StoriesBackend(int32_t context, int32_t max_pending) {
  Result<runtime::LoadedModel> m = runtime::LoadModelWithTokenizer(
      medassist::testing::SharedDataPath("tiny-models/stories260K/stories260K.gguf"), "");
  EXPECT_TRUE(m.ok()) << m.status().message();
  if (!m.ok()) return nullptr;
  auto pool = std::make_unique<ThreadPool>(1);
  LocalBackendOptions options{
      .engine = {.n_kv_blocks = 256, .context = context, .max_batch_tokens = 64, .max_running = 8},
      .max_pending = max_pending};
  Result<std::unique_ptr<LocalBackend>> b = LocalBackend::Create(
      std::move(m).value(), std::move(pool), model::Forward::Options{}, options);
  EXPECT_TRUE(b.ok()) << b.status().message();
  if (!b.ok()) return nullptr;
  return std::shared_ptr<LocalBackend>(std::move(b).value());
}

namespace {

class ScriptedStream : public BackendStream {
 public:
  ScriptedStream(ScriptedBackend* owner, std::vector<std::string> chunks,
                 runtime::FinishReason reason, int delay_ms)
      : owner_(owner), chunks_(std::move(chunks)), reason_(reason), delay_ms_(delay_ms) {}
  WaitResult Next(BackendEvent* event, std::chrono::milliseconds timeout) override {
    if (ended_) return WaitResult::kEnded;
    if (cancelled_) {
      *event = BackendEvent{.finished = true, .reason = runtime::FinishReason::kCancelled};
      ended_ = true;
      return WaitResult::kEvent;
    }
    if (delay_ms_ > 0) {  // each chunk is ready delay_ms after the previous one was read
      auto now = std::chrono::steady_clock::now();
      if (!waiting_) {
        ready_at_ = now + std::chrono::milliseconds(delay_ms_);
        waiting_ = true;
      }
      if (ready_at_ - now > timeout) {
        std::this_thread::sleep_for(timeout);
        return WaitResult::kTimeout;
      }
      std::this_thread::sleep_until(ready_at_);
      waiting_ = false;
    }
    *event = BackendEvent{};
    if (next_ < chunks_.size()) {
      event->text = chunks_[next_];
      event->has_token = true;
      event->token_id = static_cast<int32_t>(next_);
      event->token_bytes = chunks_[next_];
      event->logprob = -0.5f;
      ++next_;
    }
    if (next_ == chunks_.size()) {
      event->finished = true;
      event->reason = reason_;
      if (reason_ == runtime::FinishReason::kError) event->error = "scripted failure";
      ended_ = true;
    }
    return WaitResult::kEvent;
  }
  void Cancel() override {
    if (!cancelled_) owner_->cancelled.fetch_add(1);
    cancelled_ = true;
  }
  int32_t n_prompt_tokens() const override { return 7; }
  int32_t n_generated_tokens() const override { return static_cast<int32_t>(next_); }

 private:
  ScriptedBackend* owner_;
  std::vector<std::string> chunks_;
  runtime::FinishReason reason_;
  int delay_ms_;
  size_t next_ = 0;
  bool ended_ = false, cancelled_ = false;
  bool waiting_ = false;
  std::chrono::steady_clock::time_point ready_at_;
};

Response Convert(const httplib::Result& r) {
  Response out;
  if (!r) {
    ADD_FAILURE() << "request failed: " << httplib::to_string(r.error());
    return out;
  }
  out.status = r->status;
  out.body = r->body;
  out.headers = r->headers;
  out.json = nlohmann::json::parse(r->body, nullptr, false);
  if (out.json.is_discarded()) out.json = nullptr;
  return out;
}

}  // namespace

Result<std::unique_ptr<BackendStream>> ScriptedBackend::Start(const BackendRequest& request) {
  started.fetch_add(1);
  last_request = request;
  return std::unique_ptr<BackendStream>(new ScriptedStream(this, chunks_, reason_, delay_ms_));
}

Response Post(int port, const std::string& path, const std::string& body,
              const httplib::Headers& headers) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60);
  return Convert(c.Post(path.c_str(), headers, body, "application/json"));
}

Response Get(int port, const std::string& path, const httplib::Headers& headers) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60);
  return Convert(c.Get(path.c_str(), headers));
}

std::vector<std::string> SseData(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    std::string event = body.substr(pos, end - pos);
    if (event.rfind("data: ", 0) == 0) out.push_back(event.substr(6));
    pos = end + 2;
  }
  return out;
}

}  // namespace medassist::server::testing
