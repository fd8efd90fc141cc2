// Streaming behaviour with a scripted backend (the test decides the text and its timing): the
// reasoning split with markers cut across chunks, errors after the stream has started,
// keep-alive comments, a client that disconnects, and shutdown with requests in flight.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "test_server.h"

namespace medassist::server::testing {
namespace {

using nlohmann::json;
using runtime::FinishReason;

const assistant::ReasoningMarkers kMedicalO1 = {.open = "## Thinking",
                                                .close = "## Final Response"};

// The medical-o1 format, cut so that both markers straddle chunk boundaries.
const std::vector<std::string> kReasoned = {"## Thi", "nking\n\nSudden one-sided weakness sug",
                                            "gests a stroke.\n\n## Final Res", "ponse\n\nCall emer",
                                            "gency services now."};

json StreamedChat(int port, const std::string& extra = "") {
  Response r =
      Post(port, "/v1/chat/completions",
           R"({"messages": [{"role": "user", "content": "x"}], "stream": true)" + extra + "}");
  EXPECT_EQ(r.status, 200) << r.body;
  json chunks = json::array();
  for (const std::string& d : SseData(r.body)) {
    if (d != "[DONE]") chunks.push_back(json::parse(d));
  }
  EXPECT_EQ(SseData(r.body).back(), "[DONE]");
  return chunks;
}

TEST(ReasoningTest, SplitWhenNotStreaming) {
  auto backend = std::make_shared<ScriptedBackend>(kReasoned, FinishReason::kEos);
  TestServer s(ServerOptions{.reasoning = kMedicalO1}, backend);
  Response r =
      Post(s.port(), "/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  const json& m = r.json["choices"][0]["message"];
  EXPECT_EQ(m["reasoning_content"], "Sudden one-sided weakness suggests a stroke.");
  EXPECT_EQ(m["content"], "Call emergency services now.");
  // /v1/generate keeps returning the text as it was generated.
  Response g = Post(s.port(), "/v1/generate", R"({"prompt": "x"})");
  EXPECT_EQ(g.json["output_text"].get<std::string>().rfind("## Thinking", 0), 0u);
}

TEST(ReasoningTest, SplitWhenStreaming) {
  auto backend = std::make_shared<ScriptedBackend>(kReasoned, FinishReason::kEos);
  TestServer s(ServerOptions{.reasoning = kMedicalO1}, backend);
  std::string reasoning, content;
  for (const json& c : StreamedChat(s.port())) {
    const json& d = c["choices"][0]["delta"];
    if (d.contains("reasoning_content")) reasoning += d["reasoning_content"].get<std::string>();
    if (d.contains("content")) content += d["content"].get<std::string>();
    EXPECT_EQ(d.dump().find("##"), std::string::npos) << "a marker leaked: " << d.dump();
  }
  EXPECT_EQ(reasoning, "Sudden one-sided weakness suggests a stroke.");
  EXPECT_EQ(content, "Call emergency services now.");
}

TEST(ReasoningTest, OnPrefillsTheOpeningMarker) {
  auto backend = std::make_shared<ScriptedBackend>(
      std::vector<std::string>{"Because.\n\n## Final Response\n\nRest."}, FinishReason::kEos);
  TestServer s(ServerOptions{.reasoning = kMedicalO1}, backend);
  Response r = Post(s.port(), "/v1/chat/completions",
                    R"({"messages": [{"role": "user", "content": "x"}], "reasoning": "on"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(backend->last_request.assistant_prefill, "## Thinking\n\n");
  EXPECT_EQ(r.json["choices"][0]["message"]["reasoning_content"], "Because.");
  EXPECT_EQ(r.json["choices"][0]["message"]["content"], "Rest.");
}

TEST(ReasoningTest, DirectAnswerHasNoReasoning) {
  auto backend = std::make_shared<ScriptedBackend>(std::vector<std::string>{"Rest and ", "fluids."},
                                                   FinishReason::kLength);
  TestServer s(ServerOptions{.reasoning = kMedicalO1}, backend);
  Response r =
      Post(s.port(), "/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}]})");
  EXPECT_EQ(r.json["choices"][0]["message"]["content"], "Rest and fluids.");
  EXPECT_FALSE(r.json["choices"][0]["message"].contains("reasoning_content"));
  EXPECT_EQ(r.json["choices"][0]["finish_reason"], "length");
}

TEST(ReasoningTest, OffForbidsTheOpeningMarkerOnTheLocalEngine) {
  std::shared_ptr<LocalBackend> backend = StoriesBackend();
  const std::string body = R"({"messages": [{"role": "user", "content": "Once upon a time"}],
                               "max_tokens": 8, "temperature": 0)";
  std::string first_word;
  {
    TestServer plain(ServerOptions{}, backend);
    Response r = Post(plain.port(), "/v1/chat/completions", body + "}");
    std::string text = r.json["choices"][0]["message"]["content"];
    size_t start = text.find_first_not_of(' ');
    ASSERT_NE(start, std::string::npos) << text;
    first_word = text.substr(start, text.find(' ', start) - start);
  }
  // Use the greedy answer's first word as the opening marker: "auto" lets the model open with it
  // (so the split sees reasoning); "off" must make it answer otherwise.
  TestServer s(ServerOptions{.reasoning = {.open = first_word, .close = "ZZZ"}}, backend);
  Response automatic = Post(s.port(), "/v1/chat/completions", body + "}");
  EXPECT_FALSE(automatic.json["choices"][0]["message"]["reasoning_content"].is_null())
      << automatic.body;
  Response off = Post(s.port(), "/v1/chat/completions", body + R"(, "reasoning": "off"})");
  ASSERT_EQ(off.status, 200) << off.body;
  std::string content = off.json["choices"][0]["message"]["content"];
  EXPECT_FALSE(off.json["choices"][0]["message"].contains("reasoning_content")) << off.body;
  EXPECT_NE(content.substr(content.find_first_not_of(' ')).rfind(first_word, 0), 0u) << content;
}

TEST(StreamErrorTest, AFailureAfterTheStartIsSentInTheStream) {
  auto backend =
      std::make_shared<ScriptedBackend>(std::vector<std::string>{"partial"}, FinishReason::kError);
  TestServer s(ServerOptions{}, backend);
  json chunks = StreamedChat(s.port());
  ASSERT_FALSE(chunks.empty());
  EXPECT_EQ(chunks.back()["error"]["type"], "server_error");
  EXPECT_EQ(chunks.back()["error"]["message"], "scripted failure");
  // Not streaming: a 500 with the envelope.
  Response r =
      Post(s.port(), "/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}]})");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.json["error"]["message"], "scripted failure");
}

TEST(KeepAliveTest, CommentsWhileWaiting) {
  auto backend = std::make_shared<ScriptedBackend>(std::vector<std::string>{"late"},
                                                   FinishReason::kEos, /*delay_ms=*/400);
  TestServer s(ServerOptions{.keepalive_interval = std::chrono::milliseconds(50),
                             .poll_interval = std::chrono::milliseconds(20)},
               backend);
  Response r = Post(s.port(), "/v1/chat/completions",
                    R"({"messages": [{"role": "user", "content": "x"}], "stream": true})");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(": keep-alive\n\n"), std::string::npos) << r.body;
  EXPECT_EQ(SseData(r.body).back(), "[DONE]");
}

// Sends a raw HTTP request and returns the socket (the test closes it).
int SendRaw(int port, const std::string& body) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::string request =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  EXPECT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  return fd;
}

bool WaitFor(const std::function<bool()>& done, int ms) {
  for (int i = 0; i < ms / 10; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

TEST(DisconnectTest, ClientGoneCancelsTheGenerationStreamingOrNot) {
  for (bool stream : {true, false}) {
    // 1000 chunks 20 ms apart: 20 s unless the disconnect stops it.
    auto backend = std::make_shared<ScriptedBackend>(std::vector<std::string>(1000, "x"),
                                                     FinishReason::kLength, /*delay_ms=*/20);
    TestServer s(ServerOptions{.poll_interval = std::chrono::milliseconds(20)}, backend);
    int fd = SendRaw(
        s.port(),
        json{{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"stream", stream}}.dump());
    ASSERT_TRUE(WaitFor([&] { return backend->started.load() == 1; }, 5000));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    close(fd);
    EXPECT_TRUE(WaitFor([&] { return backend->cancelled.load() == 1; }, 2000))
        << "the generation was not cancelled after the client left (stream=" << stream << ")";
  }
}

TEST(DisconnectTest, LocalEngineFreesTheSequence) {
  std::shared_ptr<LocalBackend> backend = StoriesBackend(/*context=*/2048);
  TestServer s(ServerOptions{.poll_interval = std::chrono::milliseconds(20)}, backend);
  int fd = SendRaw(s.port(), json{{"messages", {{{"role", "user"}, {"content", "x"}}}},
                                  {"max_tokens", 2000},
                                  {"stream", true},
                                  {"temperature", 1.0},
                                  {"logit_bias", {{"2", -100}}}}  // never EOS
                                 .dump());
  ASSERT_TRUE(WaitFor([&] { return backend->engine_metrics()->engine.running == 1; }, 5000));
  close(fd);
  EXPECT_TRUE(WaitFor([&] { return backend->engine_metrics()->engine.running == 0; }, 2000));
  runtime::EngineMetrics m = *backend->engine_metrics();
  EXPECT_EQ(m.engine.kv_blocks_used, m.engine.prefix_cache_blocks)  // only the cache keeps blocks
      << "the cancelled request's KV blocks were not given back";
  EXPECT_LT(m.engine.generated_tokens, 2000);
}

TEST(ShutdownTest, DrainsThenCancels) {
  // A short request finishes within the drain; a long one is cancelled at the deadline.
  auto quick = std::make_shared<ScriptedBackend>(std::vector<std::string>(5, "a"),
                                                 FinishReason::kLength, /*delay_ms=*/20);
  auto s = std::make_unique<TestServer>(
      ServerOptions{.poll_interval = std::chrono::milliseconds(20)}, quick);
  Response finished;
  std::thread client([&] {
    finished = Post(s->port(), "/v1/chat/completions",
                    R"({"messages": [{"role": "user", "content": "x"}]})");
  });
  ASSERT_TRUE(WaitFor([&] { return quick->started.load() == 1; }, 5000));
  s->Stop(std::chrono::milliseconds(2000));
  client.join();
  EXPECT_EQ(finished.status, 200) << finished.body;
  EXPECT_EQ(finished.json["choices"][0]["message"]["content"], "aaaaa");

  auto slow = std::make_shared<ScriptedBackend>(std::vector<std::string>(1000, "a"),
                                                FinishReason::kLength, /*delay_ms=*/20);
  s = std::make_unique<TestServer>(ServerOptions{.poll_interval = std::chrono::milliseconds(20)},
                                   slow);
  Response cut;
  client = std::thread([&] {
    cut = Post(s->port(), "/v1/chat/completions",
               R"({"messages": [{"role": "user", "content": "x"}], "stream": true})");
  });
  ASSERT_TRUE(WaitFor([&] { return slow->started.load() == 1; }, 5000));
  auto t0 = std::chrono::steady_clock::now();
  s->Stop(std::chrono::milliseconds(200));
  client.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(slow->cancelled.load(), 1);
  std::vector<std::string> data = SseData(cut.body);
  ASSERT_GE(data.size(), 2u);
  EXPECT_EQ(data.back(), "[DONE]");
  EXPECT_EQ(json::parse(data[data.size() - 2])["error"]["code"], "server_busy");
}

}  // namespace
}  // namespace medassist::server::testing
