// Every route against a real server on loopback, on the local engine with stories260K.
#include <gtest/gtest.h>

#include <set>

#include "test_server.h"

namespace medassist::server::testing {
namespace {

using nlohmann::json;

class RoutesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    backend_ = StoriesBackend();
    server_ = new TestServer(ServerOptions{.model_name = "med-test"}, backend_);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    backend_.reset();
  }
  int port() const { return server_->port(); }
  static std::shared_ptr<LocalBackend> backend_;
  static TestServer* server_;
};
std::shared_ptr<LocalBackend> RoutesTest::backend_;
TestServer* RoutesTest::server_ = nullptr;

// The original system's two documented requests, verbatim.
TEST_F(RoutesTest, OriginalGenerateExample) {
  Response r = Post(port(), "/v1/generate",
                    R"({"prompt": "Given the symptoms of sudden weakness in the left arm and leg",
                        "max_new_tokens": 128, "temperature": 0.7, "top_p": 0.9})");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.json.is_object());
  EXPECT_EQ(r.json.size(), 1u) << r.body;  // exactly {"output_text": ...}
  ASSERT_TRUE(r.json["output_text"].is_string());
  EXPECT_FALSE(r.json["output_text"].get<std::string>().empty());
}

TEST_F(RoutesTest, OriginalChatExample) {
  Response r = Post(port(), "/v1/chat/completions",
                    R"({"model": "your-model", "messages": [{"role": "user", "content":
                        "Given the symptoms of sudden weakness in the left arm and leg"}],
                        "max_tokens": 256, "temperature": 0.7, "top_p": 0.9})");
  ASSERT_EQ(r.status, 200) << r.body;
  const json& j = r.json;
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "your-model");  // any name is echoed back by default
  EXPECT_EQ(j["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_TRUE(j["created"].is_number_integer());
  ASSERT_EQ(j["choices"].size(), 1u);
  const json& c = j["choices"][0];
  EXPECT_EQ(c["index"], 0);
  EXPECT_EQ(c["message"]["role"], "assistant");
  EXPECT_TRUE(c["message"]["content"].is_string());
  EXPECT_TRUE(c["finish_reason"] == "stop" || c["finish_reason"] == "length");
  const json& u = j["usage"];
  EXPECT_GT(u["prompt_tokens"].get<int>(), 5);
  EXPECT_GT(u["completion_tokens"].get<int>(), 0);
  EXPECT_LE(u["completion_tokens"].get<int>(), 256);
  EXPECT_EQ(u["total_tokens"], u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
}

TEST_F(RoutesTest, GenerateIsGreedyAndExactAtTemperatureZero) {
  // stories260K's known greedy continuation: the 17 generated ids of the shared reference data.
  Response r = Post(port(), "/v1/generate",
                    R"({"prompt": "Once upon a time", "max_new_tokens": 17, "temperature": 0})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["output_text"], ", there was a little girl named Lily. She loved to play ");
}

TEST_F(RoutesTest, SameSeedSameAnswerAndNChoices) {
  const std::string body =
      R"({"messages": [{"role": "user", "content": "Tell me a story"}], "max_tokens": 24,
          "temperature": 1.0, "seed": 42, "n": 2})";
  Response a = Post(port(), "/v1/chat/completions", body);
  Response b = Post(port(), "/v1/chat/completions", body);
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(a.json["choices"].size(), 2u);
  EXPECT_EQ(a.json["choices"], b.json["choices"]);
  // Choice 1 uses the next seed: with temperature 1 it differs from choice 0.
  EXPECT_NE(a.json["choices"][0]["message"]["content"], a.json["choices"][1]["message"]["content"]);
  EXPECT_EQ(a.json["choices"][1]["index"], 1);
}

TEST_F(RoutesTest, StopStringIsNotEmittedAndFinishesWithStop) {
  Response r = Post(port(), "/v1/completions",
                    R"({"prompt": "Once upon a time", "max_tokens": 32, "temperature": 0,
                        "stop": ["Lily"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["object"], "text_completion");
  EXPECT_EQ(r.json["choices"][0]["text"], ", there was a little girl named ");
  EXPECT_EQ(r.json["choices"][0]["finish_reason"], "stop");
}

TEST_F(RoutesTest, CompletionEchoAndLogprobs) {
  Response r = Post(port(), "/v1/completions",
                    R"({"prompt": "Once upon a time", "max_tokens": 4, "temperature": 0,
                        "echo": true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["choices"][0]["text"].get<std::string>().rfind("Once upon a time,", 0), 0u);
  Response lp = Post(port(), "/v1/completions",
                     R"({"prompt": "Once upon a time", "max_tokens": 4, "temperature": 0,
                         "logprobs": 2})");
  ASSERT_EQ(lp.status, 200) << lp.body;
  const json& l = lp.json["choices"][0]["logprobs"];
  ASSERT_EQ(l["tokens"].size(), 4u);
  ASSERT_EQ(l["top_logprobs"][0].size(), 2u);
  // Greedy: the chosen token is the most likely one, so its logprob is the top one.
  double best = -1e9;
  for (const auto& [tok, v] : l["top_logprobs"][0].items()) best = std::max(best, v.get<double>());
  EXPECT_DOUBLE_EQ(l["token_logprobs"][0].get<double>(), best);
  EXPECT_EQ(l["text_offset"][0], 0);
}

// What log-likelihood evaluation sends (lm-evaluation-harness): echo + logprobs, one token out.
TEST_F(RoutesTest, CompletionEchoWithPromptLogprobs) {
  Response r = Post(port(), "/v1/completions",
                    R"({"prompt": "Once upon a time", "max_tokens": 1, "temperature": 0,
                        "echo": true, "logprobs": 1})");
  ASSERT_EQ(r.status, 200) << r.body;
  const json& l = r.json["choices"][0]["logprobs"];
  ASSERT_EQ(l["tokens"].size(), 6u) << r.body;  // BOS + 4 prompt tokens + 1 generated
  EXPECT_TRUE(l["token_logprobs"][0].is_null());
  EXPECT_TRUE(l["top_logprobs"][0].is_null());
  for (size_t i = 1; i < 6; ++i) {
    EXPECT_LE(l["token_logprobs"][i].get<double>(), 0.0);
    EXPECT_EQ(l["top_logprobs"][i].size(), 1u);
  }
  EXPECT_EQ(l["tokens"][1], " Once");
  EXPECT_EQ(l["tokens"][5], ",");  // the greedy continuation
  EXPECT_EQ(r.json["choices"][0]["text"], "Once upon a time,");
  // The same prompt as token ids gives the same numbers.
  Response ids = Post(port(), "/v1/completions",
                      R"({"prompt": [1, 403, 407, 261, 378], "max_tokens": 1, "temperature": 0,
                          "echo": true, "logprobs": 1})");
  ASSERT_EQ(ids.status, 200) << ids.body;
  EXPECT_EQ(ids.json["choices"][0]["logprobs"]["token_logprobs"], l["token_logprobs"]);
}

TEST_F(RoutesTest, ChatLogprobsOnePerToken) {
  Response r = Post(port(), "/v1/chat/completions",
                    R"({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 6,
                        "logprobs": true, "top_logprobs": 3, "seed": 1})");
  ASSERT_EQ(r.status, 200) << r.body;
  const json& content = r.json["choices"][0]["logprobs"]["content"];
  EXPECT_EQ(content.size(), r.json["usage"]["completion_tokens"].get<size_t>());
  for (const json& e : content) {
    EXPECT_LE(e["logprob"].get<double>(), 0.0);
    EXPECT_EQ(e["top_logprobs"].size(), 3u);
    EXPECT_EQ(e["bytes"].size(), e["token"].get<std::string>().size());
  }
}

TEST_F(RoutesTest, StreamingChatInvariants) {
  const std::string request =
      R"({"messages": [{"role": "user", "content": "Tell me a story"}], "max_tokens": 12,
          "seed": 7, "temperature": 0.8})";
  json streamed_request = json::parse(request);
  streamed_request["stream"] = true;
  streamed_request["stream_options"] = {{"include_usage", true}};
  Response s = Post(port(), "/v1/chat/completions", streamed_request.dump());
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_NE(s.headers.find("Content-Type")->second.find("text/event-stream"), std::string::npos);
  std::vector<std::string> data = SseData(s.body);
  ASSERT_GE(data.size(), 4u);
  EXPECT_EQ(data.back(), "[DONE]");
  std::set<std::string> ids;
  std::string content;
  int finish_chunks = 0;
  for (size_t i = 0; i + 1 < data.size(); ++i) {
    json chunk = json::parse(data[i]);
    ids.insert(chunk["id"].get<std::string>());
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    if (i == 0) {
      EXPECT_EQ(chunk["choices"][0]["delta"]["role"], "assistant");
    }
    if (i + 2 == data.size()) {  // the usage chunk comes last, with no choices
      EXPECT_TRUE(chunk["choices"].empty());
      Response plain = Post(port(), "/v1/chat/completions", request);
      ASSERT_EQ(plain.status, 200);
      EXPECT_EQ(chunk["usage"], plain.json["usage"]);  // the real counts, as without streaming
      EXPECT_EQ(content, plain.json["choices"][0]["message"]["content"]);
      continue;
    }
    EXPECT_TRUE(chunk["usage"].is_null());
    const json& choice = chunk["choices"][0];
    if (choice["delta"].contains("content"))
      content += choice["delta"]["content"].get<std::string>();
    if (!choice["finish_reason"].is_null()) ++finish_chunks;
  }
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(finish_chunks, 1);
}

TEST_F(RoutesTest, StreamingGenerate) {
  Response s = Post(port(), "/v1/generate",
                    R"({"prompt": "Once upon a time", "max_new_tokens": 17, "temperature": 0,
                        "stream": true})");
  ASSERT_EQ(s.status, 200);
  std::string text;
  std::vector<std::string> data = SseData(s.body);
  ASSERT_EQ(data.back(), "[DONE]");
  for (size_t i = 0; i + 1 < data.size(); ++i)
    text += json::parse(data[i])["text"].get<std::string>();
  EXPECT_EQ(text, ", there was a little girl named Lily. She loved to play ");
}

TEST_F(RoutesTest, HomeHealthModelsDocs) {
  Response home = Get(port(), "/");
  ASSERT_EQ(home.status, 200);
  EXPECT_EQ(home.json["name"], "medassist");
  EXPECT_EQ(home.json["model"], "med-test");
  EXPECT_EQ(home.json["docs"], "/docs");
  Response page = Get(port(), "/", {{"Accept", "text/html,application/xhtml+xml"}});
  EXPECT_NE(page.body.find("/v1/chat/completions"), std::string::npos);
  Response health = Get(port(), "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json["status"], "ok");
  Response models = Get(port(), "/v1/models");
  ASSERT_EQ(models.status, 200);
  EXPECT_EQ(models.json["object"], "list");
  EXPECT_EQ(models.json["data"][0]["id"], "med-test");
  Response openapi = Get(port(), "/openapi.json");
  ASSERT_EQ(openapi.status, 200);
  EXPECT_EQ(openapi.json["openapi"], "3.1.0");
  Response docs = Get(port(), "/docs");
  EXPECT_EQ(docs.status, 200);
  EXPECT_NE(docs.body.find("swagger"), std::string::npos);
  Response css = Get(port(), "/docs/swagger-ui.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_GT(css.body.size(), 1000u);
}

TEST_F(RoutesTest, TokenizeDetokenizeRoundTrip) {
  Response t = Post(port(), "/tokenize", R"({"content": "Once upon a time", "add_special": true})");
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(t.json["tokens"], json::parse("[1, 403, 407, 261, 378]"));  // shared reference ids
  Response d = Post(port(), "/detokenize", R"({"tokens": [403, 407, 261, 378]})");
  ASSERT_EQ(d.status, 200);
  EXPECT_EQ(d.json["content"], "Once upon a time");
  // Pieces: text when valid UTF-8 alone, else bytes (stories260K spells "🤒" as four byte
  // tokens).
  Response pieces = Post(port(), "/tokenize", R"({"content": "Once 🤒", "with_pieces": true})");
  ASSERT_EQ(pieces.status, 200) << pieces.body;
  const json& p = pieces.json["tokens"];
  EXPECT_EQ(p[0]["id"], 403);
  EXPECT_TRUE(p[0]["piece"].is_string());
  EXPECT_EQ(p[p.size() - 1]["piece"], json::array({0x92})) << pieces.body;
  Response bad = Post(port(), "/detokenize", R"({"tokens": [999999]})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json["error"]["param"], "tokens");
}

TEST_F(RoutesTest, MetricsCountRequestsAndEngineState) {
  Post(port(), "/v1/generate", R"({"prompt": "Once", "max_new_tokens": 2})");
  Response m = Get(port(), "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("medassist_http_requests_total{route=\"/v1/generate\",status=\"200\"}"),
            std::string::npos);
  for (const char* name :
       {"medassist_queue_waiting", "medassist_sequences_running", "medassist_kv_blocks_used",
        "medassist_kv_blocks_free", "medassist_prefix_cache_hit_blocks_total",
        "medassist_time_to_first_token_seconds_sum", "medassist_inter_token_latency_seconds_count",
        "medassist_generated_tokens_total", "medassist_request_completion_tokens_count",
        "medassist_http_request_duration_seconds_bucket"}) {
    EXPECT_NE(m.body.find(name), std::string::npos) << name;
  }
}

TEST_F(RoutesTest, PromptLongerThanContextIs400WithCounts) {
  std::string long_prompt;
  for (int i = 0; i < 200; ++i) long_prompt += "Once upon a time ";
  Response r = Post(port(), "/v1/generate", json{{"prompt", long_prompt}}.dump());
  ASSERT_EQ(r.status, 400) << r.body;
  std::string message = r.json["error"]["message"];
  EXPECT_NE(message.find("256"), std::string::npos) << message;  // the context
  EXPECT_NE(message.find("prompt has"), std::string::npos) << message;
}

}  // namespace
}  // namespace medassist::server::testing
