// The remote backend end to end: a real ApiServer whose backend forwards to stand-in TGI and
// OpenAI-compatible upstreams on loopback (tests/server/standin_upstream.h): parameter mapping,
// streaming pass-through, cold starts, timeouts, broken streams, upstream errors, failover,
// circuit breakers, health, auth forwarding and secrets, client disconnects.
#include "server/remote_backend.h"

#include <gtest/gtest.h>

#include <thread>

#include "standin_upstream.h"
#include "test_server.h"

namespace medassist::server::testing {
namespace {

using namespace std::chrono_literals;
using medassist::testing::StandinUpstream;
using medassist::testing::UpstreamScript;
using nlohmann::json;

constexpr const char* kToken = "hf_secret_token_123";

RemoteBackendOptions Options(std::vector<std::string> urls, RemoteProtocolKind protocol) {
  return RemoteBackendOptions{.urls = std::move(urls),
                              .protocol = protocol,
                              .token = kToken,
                              .connect_timeout = 1000ms,
                              .idle_timeout = 2000ms,
                              .max_retries = 3,
                              .cold_start_max_wait = 5000ms,
                              .pool = {.failure_threshold = 2,
                                       .open_for = 60'000ms,
                                       .backoff_base = 20ms,
                                       .backoff_max = 100ms},
                              .health_interval = 0ms};
}

std::shared_ptr<RemoteBackend> Remote(RemoteBackendOptions options) {
  Result<std::unique_ptr<RemoteBackend>> b = RemoteBackend::Create(std::move(options));
  EXPECT_TRUE(b.ok()) << b.status().message();
  return b.ok() ? std::shared_ptr<RemoteBackend>(std::move(b).value()) : nullptr;
}

ServerOptions Plain() { return ServerOptions{.reasoning = {}}; }

const std::string kChat = R"({"messages":[{"role":"user","content":"Hi"}],"temperature":0})";

// Every `data:` payload of an SSE body that is JSON, parsed.
std::vector<json> Events(const std::string& body) {
  std::vector<json> out;
  for (const std::string& d : SseData(body)) {
    if (d != "[DONE]") out.push_back(json::parse(d));
  }
  return out;
}

class UpstreamFixture : public ::testing::TestWithParam<RemoteProtocolKind> {
 protected:
  StandinUpstream::Protocol StandinProtocol() const {
    return GetParam() == RemoteProtocolKind::kTgi ? StandinUpstream::Protocol::kTgi
                                                  : StandinUpstream::Protocol::kOpenAi;
  }
};

TEST_P(UpstreamFixture, ChatAnswersAndForwardsTheToken) {
  StandinUpstream upstream(StandinProtocol());
  upstream.Configure([](UpstreamScript& s) { s.required_token = kToken; });
  TestServer server(Plain(), Remote(Options({upstream.url()}, GetParam())));
  Response r = Post(server.port(), "/v1/chat/completions", kChat);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["choices"][0]["message"]["content"], "Hello, world!");
  EXPECT_EQ(r.json["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r.json["usage"]["prompt_tokens"], 7);
  EXPECT_EQ(r.json["usage"]["completion_tokens"], 4);
  std::vector<StandinUpstream::Seen> seen = upstream.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].authorization, std::string("Bearer ") + kToken);
}

TEST_P(UpstreamFixture, StreamsTokenByToken) {
  StandinUpstream upstream(StandinProtocol());
  upstream.Configure([](UpstreamScript& s) { s.delay_between_tokens = 30ms; });
  TestServer server(Plain(), Remote(Options({upstream.url()}, GetParam())));
  // The deltas arrive as the upstream sends them: the client sees the first one before the
  // upstream has sent the last.
  httplib::Client c = server.Client();
  std::vector<std::chrono::steady_clock::time_point> arrivals;
  std::string body;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = R"({"messages":[{"role":"user","content":"Hi"}],"stream":true,
                 "stream_options":{"include_usage":true}})";
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    arrivals.push_back(std::chrono::steady_clock::now());
    body.append(data, n);
    return true;
  };
  httplib::Response res;
  httplib::Error error;
  ASSERT_TRUE(c.send(req, res, error));
  std::vector<json> events = Events(body);
  std::string text;
  int content_chunks = 0;
  for (const json& e : events) {
    if (!e["choices"].empty() && e["choices"][0]["delta"].contains("content")) {
      const std::string piece = e["choices"][0]["delta"]["content"].get<std::string>();
      text += piece;
      content_chunks += piece.empty() ? 0 : 1;  // the role chunk carries ""
    }
  }
  EXPECT_EQ(text, "Hello, world!");
  EXPECT_EQ(content_chunks, 4) << body;
  ASSERT_GE(arrivals.size(), 3u);
  EXPECT_GE(arrivals.back() - arrivals.front(), 60ms);  // not buffered into one write
  EXPECT_EQ(events.back()["usage"]["prompt_tokens"], 7);
}

TEST_P(UpstreamFixture, WaitsOutAColdStart) {
  StandinUpstream upstream(StandinProtocol());
  upstream.Configure([](UpstreamScript& s) {
    s.cold_start_503s = 2;
    s.estimated_time = 0.1;
  });
  auto backend = Remote(Options({upstream.url()}, GetParam()));
  TestServer server(Plain(), backend);
  auto start = std::chrono::steady_clock::now();
  Response r = Post(server.port(), "/v1/chat/completions", kChat);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  EXPECT_EQ(upstream.requests().size(), 3u);
  EXPECT_NE(backend->MetricsText().find("medassist_upstream_cold_start_waits_total 2"),
            std::string::npos);
}

TEST_P(UpstreamFixture, AColdStartLongerThanTheLimitIs503) {
  StandinUpstream upstream(StandinProtocol());
  upstream.Configure([](UpstreamScript& s) {
    s.cold_start_503s = 100;
    s.estimated_time = 0.2;
  });
  RemoteBackendOptions o = Options({upstream.url()}, GetParam());
  o.cold_start_max_wait = 500ms;
  TestServer server(Plain(), Remote(o));
  Response r = Post(server.port(), "/v1/chat/completions", kChat);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.json["error"]["code"], "upstream_unavailable");
  EXPECT_NE(r.json["error"]["message"].get<std::string>().find("still loading"), std::string::npos);
  EXPECT_FALSE(r.headers.find("Retry-After") == r.headers.end());
}

TEST_P(UpstreamFixture, ASlowUpstreamTimesOutWith504) {
  StandinUpstream upstream(StandinProtocol());
  upstream.Configure([](UpstreamScript& s) { s.delay_before_response = 1500ms; });
  RemoteBackendOptions o = Options({upstream.url()}, GetParam());
  o.idle_timeout = 300ms;
  TestServer server(Plain(), Remote(o));
  Response r = Post(server.port(), "/v1/chat/completions", kChat);
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_EQ(r.json["error"]["code"], "upstream_timeout");
}

TEST_P(UpstreamFixture, AStreamThatBreaksEndsWithAnErrorEvent) {
  StandinUpstream upstream(StandinProtocol());
  upstream.Configure([](UpstreamScript& s) { s.drop_after_tokens = 2; });
  TestServer server(Plain(), Remote(Options({upstream.url()}, GetParam())));
  Response streamed = Post(server.port(), "/v1/chat/completions",
                           R"({"messages":[{"role":"user","content":"Hi"}],"stream":true})");
  ASSERT_EQ(streamed.status, 200);
  std::vector<json> events = Events(streamed.body);
  ASSERT_FALSE(events.empty());
  EXPECT_TRUE(events.back().contains("error")) << streamed.body;
  EXPECT_NE(events.back()["error"]["message"].get<std::string>().find("after 2 tokens"),
            std::string::npos);
  EXPECT_EQ(SseData(streamed.body).back(), "[DONE]");
  // Not streamed: 502, and nothing retried once the answer had started.
  Response whole = Post(server.port(), "/v1/chat/completions", kChat);
  EXPECT_EQ(whole.status, 502);
  EXPECT_EQ(upstream.requests().size(), 2u);
}

TEST_P(UpstreamFixture, UpstreamFailuresMapToGatewayErrors) {
  StandinUpstream upstream(StandinProtocol());
  RemoteBackendOptions o = Options({upstream.url()}, GetParam());
  o.pool.failure_threshold = 10;  // each failure here is judged on its own
  TestServer server(Plain(), Remote(o));
  upstream.Configure([](UpstreamScript& s) { s.fail_500s = 1; });
  Response failed = Post(server.port(), "/v1/chat/completions", kChat);
  EXPECT_EQ(failed.status, 502) << failed.body;
  EXPECT_EQ(failed.json["error"]["code"], "upstream_error");
  EXPECT_EQ(upstream.requests().size(), 1u);  // a 500 is not retried

  upstream.Configure([](UpstreamScript& s) { s.malformed_json = true; });
  Response malformed = Post(server.port(), "/v1/chat/completions", kChat);
  EXPECT_EQ(malformed.status, 502) << malformed.body;
  EXPECT_NE(malformed.json["error"]["message"].get<std::string>().find("not JSON"),
            std::string::npos);

  upstream.Configure([](UpstreamScript& s) {
    s.malformed_json = false;
    s.overloaded_429s = 2;
  });
  Response overloaded_then_ok = Post(server.port(), "/v1/chat/completions", kChat);
  EXPECT_EQ(overloaded_then_ok.status, 200) << overloaded_then_ok.body;
}

TEST_P(UpstreamFixture, WrongCredentialsAre502WithoutTheToken) {
  StandinUpstream upstream(StandinProtocol());
  upstream.Configure([](UpstreamScript& s) { s.required_token = "another"; });
  TestServer server(Plain(), Remote(Options({upstream.url()}, GetParam())));
  Response r = Post(server.port(), "/v1/chat/completions", kChat);
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.body.find("HF_API_TOKEN"), std::string::npos);
  EXPECT_EQ(r.body.find(kToken), std::string::npos);
  Response health = Get(server.port(), "/health");
  EXPECT_EQ(health.body.find(kToken), std::string::npos);
}

TEST_P(UpstreamFixture, FailsOverToALiveUpstreamAndOpensTheBreaker) {
  StandinUpstream dead(StandinProtocol()), alive(StandinProtocol());
  const std::string dead_url = dead.url();
  dead.Stop();
  auto backend = Remote(Options({dead_url, alive.url()}, GetParam()));
  TestServer server(Plain(), backend);
  for (int i = 0; i < 4; ++i) {
    Response r = Post(server.port(), "/v1/chat/completions", kChat);
    EXPECT_EQ(r.status, 200) << r.body;
  }
  EXPECT_EQ(alive.requests().size(), 4u);
  Response health = Get(server.port(), "/health");
  EXPECT_EQ(health.status, 200);
  ASSERT_EQ(health.json["upstreams"].size(), 2u);
  EXPECT_EQ(health.json["upstreams"][0]["breaker"], "open");  // 2 failures in a row
  EXPECT_EQ(health.json["upstreams"][1]["breaker"], "closed");
  // The dead one was tried only until its breaker opened: later requests skip it.
  EXPECT_EQ(health.json["upstreams"][0]["requests"], 2);
  EXPECT_NE(backend->MetricsText().find("medassist_upstream_breaker_open{upstream=\"" + dead_url +
                                        "\"} 1"),
            std::string::npos);
}

TEST_P(UpstreamFixture, AllUpstreamsDeadFailsFast) {
  StandinUpstream dead(StandinProtocol());
  const std::string url = dead.url();
  dead.Stop();
  TestServer server(Plain(), Remote(Options({url}, GetParam())));
  Response first = Post(server.port(), "/v1/chat/completions", kChat);
  EXPECT_EQ(first.status, 503) << first.body;
  auto start = std::chrono::steady_clock::now();
  Response fast = Post(server.port(), "/v1/chat/completions", kChat);
  EXPECT_EQ(fast.status, 503);
  EXPECT_NE(fast.json["error"]["message"].get<std::string>().find("circuit breaker"),
            std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 200ms);
}

TEST_P(UpstreamFixture, AClientThatHangsUpAbortsTheUpstream) {
  StandinUpstream upstream(StandinProtocol());
  upstream.Configure([](UpstreamScript& s) {
    s.delay_between_tokens = 50ms;
    s.tokens = std::vector<std::string>(200, "x");
  });
  TestServer server(Plain(), Remote(Options({upstream.url()}, GetParam())));
  httplib::Client c = server.Client();
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = R"({"messages":[{"role":"user","content":"Hi"}],"stream":true})";
  req.set_header("Content-Type", "application/json");
  int chunks = 0;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 3; };
  httplib::Response res;
  httplib::Error error;
  c.send(req, res, error);
  for (int i = 0; i < 100 && upstream.streams_aborted() == 0; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(upstream.streams_aborted(), 1);
}

TEST_P(UpstreamFixture, StopStringsAreWithheldWhateverTheUpstreamDoes) {
  StandinUpstream upstream(StandinProtocol());
  TestServer server(Plain(), Remote(Options({upstream.url()}, GetParam())));
  Response r = Post(server.port(), "/v1/chat/completions",
                    R"({"messages":[{"role":"user","content":"Hi"}],"stop":[" wor"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["choices"][0]["message"]["content"], "Hello,");
  EXPECT_EQ(r.json["choices"][0]["finish_reason"], "stop");
}

TEST_P(UpstreamFixture, TheOriginalGenerateRouteWorks) {
  StandinUpstream upstream(StandinProtocol());
  TestServer server(Plain(), Remote(Options({upstream.url()}, GetParam())));
  Response r = Post(server.port(), "/v1/generate",
                    R"({"prompt":"A patient","max_new_tokens":3,"temperature":0.5,"top_p":1.0})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["output_text"], "Hello, world");
  json sent = upstream.requests().at(0).body;
  if (GetParam() == RemoteProtocolKind::kTgi) {
    EXPECT_EQ(sent["inputs"], "A patient");
    EXPECT_EQ(sent["parameters"]["max_new_tokens"], 3);
    EXPECT_EQ(sent["parameters"]["temperature"], 0.5);
    EXPECT_FALSE(sent["parameters"].contains("top_p"));  // TGI refuses top_p >= 1
    EXPECT_EQ(sent["parameters"]["do_sample"], true);
  } else {
    EXPECT_EQ(sent["prompt"], "A patient");
    EXPECT_EQ(sent["max_tokens"], 3);
    EXPECT_EQ(sent["top_p"], 1.0);
  }
}

INSTANTIATE_TEST_SUITE_P(Protocols, UpstreamFixture,
                         ::testing::Values(RemoteProtocolKind::kTgi, RemoteProtocolKind::kOpenAi),
                         [](const auto& param_info) {
                           return param_info.param == RemoteProtocolKind::kTgi ? "Tgi" : "OpenAi";
                         });

TEST(RemoteTgiTest, GreedyIsSentAsDoSampleFalseAndChatsAreRendered) {
  StandinUpstream upstream(StandinUpstream::Protocol::kTgi);
  TestServer server(Plain(), Remote(Options({upstream.url()}, RemoteProtocolKind::kTgi)));
  Response r = Post(server.port(), "/v1/chat/completions", kChat);
  ASSERT_EQ(r.status, 200) << r.body;
  json sent = upstream.requests().at(0).body;
  EXPECT_EQ(upstream.requests().at(0).path, "/generate_stream");
  EXPECT_EQ(sent["parameters"]["do_sample"], false);
  EXPECT_FALSE(sent["parameters"].contains("temperature"));  // TGI refuses 0
  EXPECT_EQ(sent["inputs"], "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

// Real TGI answers /generate_stream with 200 and then refuses a bad value in an event; a raw
// upstream sends exactly that.
TEST(RemoteTgiTest, AValidationRefusalInTheStreamIs400) {
  httplib::Server raw;
  raw.Post("/generate_stream", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        "data:{\"error\":\"Input validation error: `top_k` must be strictly positive\","
        "\"error_type\":\"validation\"}\n\n",
        "text/event-stream");
  });
  const int port = raw.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { raw.listen_after_bind(); });
  TestServer server(Plain(), Remote(Options({"http://127.0.0.1:" + std::to_string(port)},
                                            RemoteProtocolKind::kTgi)));
  Response r = Post(server.port(), "/v1/generate", R"({"prompt":"x"})");
  raw.stop();
  serving.join();
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.json["error"]["message"].get<std::string>().find(
                "the upstream refused the request: Input validation error"),
            std::string::npos);
}

TEST(RemoteTgiTest, TokenIdPromptsAndLogitBiasAreRefusedClearly) {
  StandinUpstream upstream(StandinUpstream::Protocol::kTgi);
  TestServer server(Plain(), Remote(Options({upstream.url()}, RemoteProtocolKind::kTgi)));
  Response ids = Post(server.port(), "/v1/completions", R"({"prompt":[1,2,3]})");
  EXPECT_EQ(ids.status, 400);
  EXPECT_NE(ids.body.find("token ids"), std::string::npos);
  Response bias = Post(server.port(), "/v1/chat/completions",
                       R"({"messages":[{"role":"user","content":"Hi"}],"logit_bias":{"5":1}})");
  EXPECT_EQ(bias.status, 400);
  EXPECT_TRUE(upstream.requests().empty());
}

TEST(RemoteOpenAiTest, EchoLogprobsGivePromptLogprobs) {
  StandinUpstream upstream(StandinUpstream::Protocol::kOpenAi);
  TestServer server(Plain(), Remote(Options({upstream.url()}, RemoteProtocolKind::kOpenAi)));
  Response r = Post(server.port(), "/v1/completions",
                    R"({"prompt":"The patient has","echo":true,"logprobs":1,"max_tokens":2})");
  ASSERT_EQ(r.status, 200) << r.body;
  const json& lp = r.json["choices"][0]["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), 5u) << r.body;  // 3 prompt + 2 generated
  EXPECT_EQ(lp["tokens"][0], "The");
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  EXPECT_EQ(lp["tokens"][3], "Hello");
  EXPECT_EQ(r.json["choices"][0]["text"], "The patient hasHello,");
  EXPECT_EQ(upstream.requests().at(0).body["echo"], true);
}

TEST(RemoteOpenAiTest, ChatLogprobsPassThrough) {
  StandinUpstream upstream(StandinUpstream::Protocol::kOpenAi);
  TestServer server(Plain(), Remote(Options({upstream.url()}, RemoteProtocolKind::kOpenAi)));
  Response r = Post(server.port(), "/v1/chat/completions",
                    R"({"messages":[{"role":"user","content":"Hi"}],"logprobs":true,
                        "top_logprobs":2})");
  ASSERT_EQ(r.status, 200) << r.body;
  const json& content = r.json["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 4u) << r.body;
  EXPECT_EQ(content[1]["token"], ",");
  EXPECT_FLOAT_EQ(content[1]["logprob"].get<float>(), -0.2f);
  EXPECT_EQ(content[1]["top_logprobs"].size(), 2u);
}

TEST(RemoteBackendTest, RefusesBadUrlsAtStart) {
  EXPECT_FALSE(RemoteBackend::Create(Options({}, RemoteProtocolKind::kTgi)).ok());
  Result<std::unique_ptr<RemoteBackend>> b =
      RemoteBackend::Create(Options({"ftp://user:pw@x/"}, RemoteProtocolKind::kTgi));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message().find("pw"), std::string::npos);
}

TEST(RemoteBackendTest, HealthReportsTheUpstreams) {
  StandinUpstream up(StandinUpstream::Protocol::kTgi), loading(StandinUpstream::Protocol::kTgi);
  auto backend = Remote(Options({up.url(), loading.url()}, RemoteProtocolKind::kTgi));
  backend->ProbeNow();
  BackendHealth h = backend->Health();
  EXPECT_TRUE(h.ready);
  EXPECT_EQ(h.state, "ok");
  up.Stop();
  loading.Stop();
  backend->ProbeNow();
  h = backend->Health();
  EXPECT_FALSE(h.ready);
  EXPECT_EQ(h.state, "unavailable");
  ASSERT_EQ(h.upstreams.size(), 2u);
  EXPECT_EQ(h.upstreams[0].state, "down");
}

}  // namespace
}  // namespace medassist::server::testing
