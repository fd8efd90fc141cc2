// Everything a client can get wrong, against a real server: each answer is the OpenAI error
// envelope with the right status and the offending field in `param`. Also auth, CORS, limits.
#include <gtest/gtest.h>

#include "test_server.h"

namespace medassist::server::testing {
namespace {

using nlohmann::json;

// The envelope: {"error": {"message": non-empty string, "type": string, "param", "code"}}.
void ExpectEnvelope(const Response& r, int status, const std::string& param = "") {
  EXPECT_EQ(r.status, status) << r.body;
  ASSERT_TRUE(r.json.is_object()) << r.body;
  const json& e = r.json["error"];
  ASSERT_TRUE(e.is_object()) << r.body;
  EXPECT_FALSE(e["message"].get<std::string>().empty());
  EXPECT_TRUE(e["type"].is_string());
  EXPECT_TRUE(e.contains("param") && e.contains("code")) << r.body;
  if (!param.empty()) {
    EXPECT_EQ(e["param"], param) << r.body;
  }
}

class ErrorsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    backend_ = std::make_shared<ScriptedBackend>(std::vector<std::string>{"ok"},
                                                 runtime::FinishReason::kEos);
    server_ = new TestServer(ServerOptions{.model_name = "med-test", .max_body_bytes = 1 << 20},
                             backend_);
  }
  static void TearDownTestSuite() {
    delete server_;
    backend_.reset();
  }
  int port() const { return server_->port(); }
  Response Chat(const std::string& body) { return Post(port(), "/v1/chat/completions", body); }
  static std::shared_ptr<ScriptedBackend> backend_;
  static TestServer* server_;
};
std::shared_ptr<ScriptedBackend> ErrorsTest::backend_;
TestServer* ErrorsTest::server_ = nullptr;

TEST_F(ErrorsTest, BadMessages) {
  ExpectEnvelope(Chat(R"({"messages": null})"), 400, "messages");
  ExpectEnvelope(Chat(R"({})"), 400, "messages");
  ExpectEnvelope(Chat(R"({"messages": "hello"})"), 400, "messages");
  ExpectEnvelope(Chat(R"({"messages": []})"), 400, "messages");
  ExpectEnvelope(Chat(R"({"messages": [123]})"), 400, "messages[0]");
  ExpectEnvelope(Chat(R"({"messages": [{}]})"), 400, "messages[0].role");
  ExpectEnvelope(Chat(R"({"messages": [{"role": "wizard", "content": "x"}]})"), 400,
                 "messages[0].role");
  ExpectEnvelope(Chat(R"({"messages": [{"role": "tool", "content": "x"}]})"), 400,
                 "messages[0].role");
  ExpectEnvelope(Chat(R"({"messages": [{"role": "user", "content": 5}]})"), 400,
                 "messages[0].content");
  ExpectEnvelope(Chat(R"({"messages": [{"role": "user"}]})"), 400, "messages[0].content");
  ExpectEnvelope(Chat(R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})"),
                 400, "messages[0].content[0]");
}

TEST_F(ErrorsTest, OutOfRangeAndWrongTypes) {
  const std::string m = R"("messages": [{"role": "user", "content": "hi"}])";
  ExpectEnvelope(Chat("{" + m + R"(, "n": 1000000000})"), 400, "n");
  ExpectEnvelope(Chat("{" + m + R"(, "max_tokens": -1})"), 400, "max_tokens");
  ExpectEnvelope(Chat("{" + m + R"(, "max_tokens": 0})"), 400, "max_tokens");
  ExpectEnvelope(Chat("{" + m + R"(, "max_tokens": 1.5})"), 400, "max_tokens");
  ExpectEnvelope(Chat("{" + m + R"(, "max_completion_tokens": "many"})"), 400,
                 "max_completion_tokens");
  ExpectEnvelope(Chat("{" + m + R"(, "temperature": 1e9})"), 400, "temperature");
  ExpectEnvelope(Chat("{" + m + R"(, "temperature": "hot"})"), 400, "temperature");
  ExpectEnvelope(Chat("{" + m + R"(, "top_p": 1.5})"), 400, "top_p");
  ExpectEnvelope(Chat("{" + m + R"(, "presence_penalty": 3})"), 400, "presence_penalty");
  ExpectEnvelope(Chat("{" + m + R"(, "stop": ["a", "b", "c", "d", "e"]})"), 400, "stop");
  ExpectEnvelope(Chat("{" + m + R"(, "stop": [""]})"), 400, "stop");
  ExpectEnvelope(Chat("{" + m + R"(, "logit_bias": {"abc": 1}})"), 400, "logit_bias");
  ExpectEnvelope(Chat("{" + m + R"(, "logit_bias": {"5": 500}})"), 400, "logit_bias");
  ExpectEnvelope(Chat("{" + m + R"(, "top_logprobs": 3})"), 400, "top_logprobs");
  ExpectEnvelope(Chat("{" + m + R"(, "logprobs": true, "top_logprobs": 21})"), 400, "top_logprobs");
  ExpectEnvelope(Chat("{" + m + R"(, "stream_options": {"include_usage": true}})"), 400,
                 "stream_options");
  ExpectEnvelope(Chat("{" + m + R"(, "stream": "yes"})"), 400, "stream");
  ExpectEnvelope(Chat("{" + m + R"(, "reasoning": "maybe"})"), 400, "reasoning");
  ExpectEnvelope(Chat("{" + m + R"(, "seed": 1e30})"), 400, "seed");
  ExpectEnvelope(Post(port(), "/v1/generate", R"({"prompt": 7})"), 400, "prompt");
  ExpectEnvelope(Post(port(), "/v1/generate", R"({"max_new_tokens": 5})"), 400, "prompt");
  ExpectEnvelope(Post(port(), "/v1/generate", R"({"prompt": "x", "max_new_tokens": 0})"), 400,
                 "max_new_tokens");
  ExpectEnvelope(Post(port(), "/v1/completions", R"({"prompt": ["a", "b"]})"), 400, "prompt");
  ExpectEnvelope(Post(port(), "/v1/completions", R"({"prompt": [1.5]})"), 400, "prompt");
  ExpectEnvelope(Post(port(), "/v1/completions", R"({"prompt": []})"), 400, "prompt");
  ExpectEnvelope(Post(port(), "/v1/completions",
                      R"({"prompt": "x", "echo": true, "logprobs": 1, "stream": true})"),
                 400, "echo");
  EXPECT_EQ(backend_->started.load(), 0) << "no bad request may reach the backend";
}

TEST_F(ErrorsTest, MalformedBodies) {
  ExpectEnvelope(Chat("{not json"), 400);
  ExpectEnvelope(Chat("[1, 2]"), 400);
  ExpectEnvelope(Chat(""), 400);
  // Invalid UTF-8 inside a string.
  ExpectEnvelope(Chat("{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\xfe\"}]}"), 400);
  // Larger than the 1 MiB limit of this server: 413 with the envelope, not a hang or a crash.
  std::string big =
      json{{"messages", json::array({{{"role", "user"}, {"content", std::string(10 << 20, 'a')}}})}}
          .dump();
  ExpectEnvelope(Chat(big), 413);
}

// A value nested a million levels deep (4 MB) once overflowed the stack while the error message
// printed it; it must be a 400 naming the field, and the server must stay up.
TEST(DeepNestingTest, IsA400AndTheServerStaysUp) {
  auto backend = std::make_shared<ScriptedBackend>(std::vector<std::string>{"ok"},
                                                   runtime::FinishReason::kEos);
  TestServer s(ServerOptions{}, backend);
  const size_t depth = 1'000'000;
  std::string body = R"({"prompt": "p", "logit_bias": {"1": )" + std::string(depth, '[') +
                     std::string(depth, ']') + "}}";
  Response r = Post(s.port(), "/v1/generate", body);
  ExpectEnvelope(r, 400);
  EXPECT_EQ(Get(s.port(), "/health").status, 200);
}

TEST_F(ErrorsTest, UnknownRouteAndMethod) {
  ExpectEnvelope(Get(port(), "/v1/nothing"), 404);
  ExpectEnvelope(Post(port(), "/v1/models", "{}"), 404);
}

TEST_F(ErrorsTest, ValidRequestReachesTheBackend) {  // the control for the cases above
  Response r = Chat(R"({"messages": [{"role": "user", "content": "hi"}], "n": 2, "seed": -3,
                        "top_k": -1, "stop": "x", "logit_bias": {"5": -100}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["choices"].size(), 2u);
  EXPECT_EQ(backend_->last_request.stop, std::vector<std::string>{"x"});
  EXPECT_EQ(backend_->last_request.logit_bias.size(), 1u);
  EXPECT_EQ(backend_->last_request.seed_offset, 1u);  // the second choice
  EXPECT_EQ(*backend_->last_request.request.top_k, 0);
  backend_->started.store(0);
}

TEST(AuthTest, Matrix) {
  auto backend = std::make_shared<ScriptedBackend>(std::vector<std::string>{"ok"},
                                                   runtime::FinishReason::kEos);
  TestServer s(ServerOptions{.api_key = "s3cret-key"}, backend);
  const std::string body = R"({"messages": [{"role": "user", "content": "hi"}]})";
  ExpectEnvelope(Post(s.port(), "/v1/chat/completions", body), 401);
  Response wrong =
      Post(s.port(), "/v1/chat/completions", body, {{"Authorization", "Bearer s3cret-kez"}});
  ExpectEnvelope(wrong, 401);
  EXPECT_EQ(wrong.json["error"]["code"], "invalid_api_key");
  EXPECT_EQ(wrong.body.find("s3cret"), std::string::npos);  // the key is never echoed
  ExpectEnvelope(Post(s.port(), "/v1/chat/completions", body, {{"Authorization", "s3cret-key"}}),
                 401);
  ExpectEnvelope(Post(s.port(), "/v1/chat/completions", body, {{"X-API-Key", "s3cret-ke"}}), 401);
  EXPECT_EQ(
      Post(s.port(), "/v1/chat/completions", body, {{"Authorization", "Bearer s3cret-key"}}).status,
      200);
  EXPECT_EQ(
      Post(s.port(), "/v1/chat/completions", body, {{"authorization", "bearer s3cret-key"}}).status,
      200);
  EXPECT_EQ(Post(s.port(), "/v1/chat/completions", body, {{"X-API-Key", "s3cret-key"}}).status,
            200);
  ExpectEnvelope(Get(s.port(), "/v1/models"), 401);
  ExpectEnvelope(Get(s.port(), "/metrics"), 401);
  ExpectEnvelope(Post(s.port(), "/tokenize", "{}"), 401);
  // Public routes.
  EXPECT_EQ(Get(s.port(), "/health").status, 200);
  EXPECT_EQ(Get(s.port(), "/").status, 200);
  EXPECT_EQ(Get(s.port(), "/openapi.json").status, 200);
  EXPECT_EQ(Get(s.port(), "/docs").status, 200);
}

TEST(CorsTest, PreflightAndHeaders) {
  auto backend = std::make_shared<ScriptedBackend>(std::vector<std::string>{"ok"},
                                                   runtime::FinishReason::kEos);
  TestServer s(ServerOptions{.api_key = "k", .cors_origins = {"https://app.example"}}, backend);
  httplib::Client c = s.Client();
  httplib::Result ok = c.Options(
      "/v1/chat/completions", {{"Origin", "https://app.example"},
                               {"Access-Control-Request-Method", "POST"},
                               {"Access-Control-Request-Headers", "authorization,content-type"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 204);  // no key needed for a preflight
  EXPECT_EQ(ok->get_header_value("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_NE(ok->get_header_value("Access-Control-Allow-Headers").find("Authorization"),
            std::string::npos);
  httplib::Result other = c.Options("/v1/chat/completions", {{"Origin", "https://evil.example"}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 403);
  EXPECT_EQ(other->get_header_value("Access-Control-Allow-Origin"), "");
  Response r =
      Post(s.port(), "/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}]})",
           {{"Origin", "https://app.example"}, {"Authorization", "Bearer k"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.find("Access-Control-Allow-Origin")->second, "https://app.example");
  // Errors carry the header too, so a browser can read them.
  Response denied =
      Post(s.port(), "/v1/chat/completions", "{}", {{"Origin", "https://app.example"}});
  EXPECT_EQ(denied.status, 401);
  EXPECT_NE(denied.headers.find("Access-Control-Allow-Origin"), denied.headers.end());
}

TEST(ModelNamesTest, StrictNamesAre404) {
  auto backend = std::make_shared<ScriptedBackend>(std::vector<std::string>{"ok"},
                                                   runtime::FinishReason::kEos);
  TestServer s(ServerOptions{.model_name = "med", .strict_model_names = true}, backend);
  Response r = Post(s.port(), "/v1/chat/completions",
                    R"({"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]})");
  ExpectEnvelope(r, 404, "model");
  EXPECT_EQ(r.json["error"]["code"], "model_not_found");
  EXPECT_EQ(Post(s.port(), "/v1/chat/completions",
                 R"({"model": "med", "messages": [{"role": "user", "content": "hi"}]})")
                .status,
            200);
  EXPECT_EQ(
      Post(s.port(), "/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}]})")
          .status,
      200);
}

TEST(LoadingTest, HealthAndRoutesAre503UntilTheBackendIsSet) {
  TestServer s(ServerOptions{}, nullptr);
  Response h = Get(s.port(), "/health");
  EXPECT_EQ(h.status, 503);
  EXPECT_EQ(h.json["status"], "loading");
  Response r = Post(s.port(), "/v1/chat/completions",
                    R"({"messages": [{"role": "user", "content": "hi"}]})");
  ExpectEnvelope(r, 503);
  EXPECT_NE(r.headers.find("Retry-After"), r.headers.end());
  s.server().SetBackendError("weights file truncated");
  Response failed = Get(s.port(), "/health");
  EXPECT_EQ(failed.status, 503);
  EXPECT_EQ(failed.json["status"], "unavailable");
  EXPECT_EQ(failed.json["error"], "weights file truncated");
  s.server().SetBackend(std::make_shared<ScriptedBackend>(std::vector<std::string>{"ok"},
                                                          runtime::FinishReason::kEos));
  EXPECT_EQ(Get(s.port(), "/health").status, 200);
}

TEST(BusyTest, FullEngineQueueIs503WithRetryAfter) {
  std::shared_ptr<LocalBackend> backend = StoriesBackend(/*context=*/2048, /*max_pending=*/1);
  TestServer s(ServerOptions{}, backend);
  // One long request (EOS banned) holds the only slot while a second one arrives.
  std::thread first([&] {
    Post(s.port(), "/v1/generate",
         R"({"prompt": "Once upon a time", "max_new_tokens": 2000, "logit_bias": {"2": -100}})");
  });
  for (int i = 0; i < 500 && backend->engine_metrics()->engine.running == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  Response second = Post(s.port(), "/v1/generate", R"({"prompt": "Hi", "max_new_tokens": 1})");
  first.join();
  ExpectEnvelope(second, 503);
  EXPECT_EQ(second.json["error"]["code"], "server_busy");
  EXPECT_NE(second.headers.find("Retry-After"), second.headers.end());
  // Once the slot is free again, requests pass.
  EXPECT_EQ(Post(s.port(), "/v1/generate", R"({"prompt": "Hi", "max_new_tokens": 1})").status, 200);
}

}  // namespace
}  // namespace medassist::server::testing
