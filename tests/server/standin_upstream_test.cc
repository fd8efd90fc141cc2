// Self-tests of the stand-in upstreams: the shapes of TGI's and OpenAI's published APIs, TGI's
// validation rules, and each scripted fault, seen through a plain httplib client.
#include "standin_upstream.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace medassist::testing {
namespace {

using json = nlohmann::json;
using Protocol = StandinUpstream::Protocol;
using Clock = std::chrono::steady_clock;

httplib::Client ClientFor(const StandinUpstream& u) {
  httplib::Client c("127.0.0.1", u.port());
  c.set_read_timeout(5);
  return c;
}

struct Reply {
  int status = 0;
  std::string content_type, body;
  json json_body;  // null when the body is not JSON
};

Reply Post(const StandinUpstream& u, const std::string& path, const json& body,
           const httplib::Headers& headers = {}) {
  httplib::Client c = ClientFor(u);
  httplib::Result r = c.Post(path.c_str(), headers, body.dump(), "application/json");
  if (!r) {
    ADD_FAILURE() << path << ": " << httplib::to_string(r.error());
    return {};
  }
  json parsed = json::parse(r->body, nullptr, false);
  return {r->status, r->get_header_value("Content-Type"), r->body,
          parsed.is_discarded() ? json(nullptr) : parsed};
}

Reply Get(const StandinUpstream& u, const std::string& path, const httplib::Headers& headers = {}) {
  httplib::Client c = ClientFor(u);
  httplib::Result r = c.Get(path.c_str(), headers);
  if (!r) {
    ADD_FAILURE() << path << ": " << httplib::to_string(r.error());
    return {};
  }
  json parsed = json::parse(r->body, nullptr, false);
  return {r->status, r->get_header_value("Content-Type"), r->body,
          parsed.is_discarded() ? json(nullptr) : parsed};
}

// The `data:` payloads of an SSE body, with the optional space after the colon removed.
std::vector<std::string> SseData(const std::string& body) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find("\n\n", start);
    if (end == std::string::npos) end = body.size();
    std::string event = body.substr(start, end - start);
    if (event.rfind("data:", 0) == 0) {
      event.erase(0, 5);
      if (!event.empty() && event[0] == ' ') event.erase(0, 1);
      out.push_back(event);
    }
    start = end + 2;
  }
  return out;
}

struct Streamed {
  bool completed = false;  // the chunked transfer ended cleanly
  int status = 0;
  std::string content_type, body;
  std::vector<std::string> data() const { return SseData(body); }
};

// POSTs and reads the answer as it arrives; hangs up after `hang_up_after` events when >= 0.
Streamed PostStream(const StandinUpstream& u, const std::string& path, const json& body,
                    int hang_up_after = -1) {
  httplib::Client c = ClientFor(u);
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  Streamed out;
  req.response_handler = [&](const httplib::Response& r) {
    out.status = r.status;
    out.content_type = r.get_header_value("Content-Type");
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    out.body.append(data, n);
    return hang_up_after < 0 || static_cast<int>(out.data().size()) < hang_up_after;
  };
  out.completed = static_cast<bool>(c.send(req));
  return out;
}

const json kTgiBody = {{"inputs", "Patient reports chest pain."},
                       {"parameters", {{"max_new_tokens", 16}, {"details", true}, {"seed", 42}}}};
const json kChatBody = {{"model", "m-chat"},
                        {"messages", {{{"role", "user"}, {"content", "Headache for 3 days?"}}}}};

// ---- TGI ------------------------------------------------------------------------------------

TEST(StandinTgi, GenerateAnswersScriptedTextAndDetails) {
  StandinUpstream u(Protocol::kTgi);
  Reply r = Post(u, "/generate", kTgiBody);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json_body["generated_text"], "Hello, world!");
  const json& d = r.json_body["details"];
  EXPECT_EQ(d["finish_reason"], "length");
  EXPECT_EQ(d["generated_tokens"], 4);
  EXPECT_EQ(d["seed"], 42);
  EXPECT_EQ(d["prefill"], json::array());
  ASSERT_EQ(d["tokens"].size(), 4u);
  EXPECT_EQ(d["tokens"][2]["text"], " world");
  EXPECT_DOUBLE_EQ(d["tokens"][2]["logprob"].get<double>(), -0.3);
  EXPECT_EQ(d["tokens"][2]["special"], false);
  EXPECT_TRUE(d["tokens"][2]["id"].is_number_integer());

  // details only when asked; return_full_text prepends the inputs.
  Reply plain =
      Post(u, "/generate", {{"inputs", "Q: "}, {"parameters", {{"return_full_text", true}}}});
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(plain.json_body, json({{"generated_text", "Q: Hello, world!"}}));
}

TEST(StandinTgi, MaxNewTokensAndStopSequencesEndTheAnswer) {
  StandinUpstream u(Protocol::kTgi);
  u.Configure([](UpstreamScript& s) { s.finish_reason = "eos_token"; });
  Reply whole = Post(u, "/generate", kTgiBody);
  EXPECT_EQ(whole.json_body["details"]["finish_reason"], "eos_token");

  json capped = kTgiBody;
  capped["parameters"]["max_new_tokens"] = 2;
  Reply c = Post(u, "/generate", capped);
  EXPECT_EQ(c.json_body["generated_text"], "Hello,");
  EXPECT_EQ(c.json_body["details"]["finish_reason"], "length");
  EXPECT_EQ(c.json_body["details"]["generated_tokens"], 2);

  json stopped = kTgiBody;
  stopped["parameters"]["stop"] = {" wor"};
  Reply s = Post(u, "/generate", stopped);
  EXPECT_EQ(s.json_body["generated_text"], "Hello, world");  // TGI keeps the stop sequence
  EXPECT_EQ(s.json_body["details"]["finish_reason"], "stop_sequence");
}

TEST(StandinTgi, ValidationErrorsAre422WithTgisMessages) {
  StandinUpstream u(Protocol::kTgi);
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"top_p", 1.0}}, "`top_p` must be > 0.0 and < 1.0"},
      {{{"top_p", 0.0}}, "`top_p` must be > 0.0 and < 1.0"},
      {{{"temperature", 0.0}}, "`temperature` must be strictly positive"},
      {{{"temperature", -1.0}}, "`temperature` must be strictly positive"},
      {{{"max_new_tokens", 0}}, "`max_new_tokens` must be strictly positive"},
      {{{"top_k", 0}}, "`top_k` must be strictly positive"},
      {{{"repetition_penalty", 0.0}}, "`repetition_penalty` must be strictly positive"},
      {{{"stop", {"a", "b", "c", "d", "e"}}}, "`stop` supports up to 4 stop sequences. Given: 5"},
      {{{"max_new_tokens", -1}}, "Failed to deserialize"},
      {{{"top_p", "high"}}, "Failed to deserialize"},
      {{{"details", 1}}, "Failed to deserialize"},
  };
  for (const auto& [params, message] : cases) {
    Reply r = Post(u, "/generate", {{"inputs", "x"}, {"parameters", params}});
    EXPECT_EQ(r.status, 422) << params.dump();
    EXPECT_EQ(r.json_body.value("error_type", ""), "validation") << params.dump();
    EXPECT_NE(r.json_body.value("error", "").find(message), std::string::npos)
        << params.dump() << " -> " << r.body;
  }
  EXPECT_EQ(Post(u, "/generate", {{"parameters", json::object()}}).status, 422);  // no inputs
  EXPECT_EQ(Post(u, "/generate", {{"inputs", ""}}).json_body["error"],
            "Input validation error: `inputs` cannot be empty");
  // The edges that are valid: top_p just under 1, temperature just over 0.
  EXPECT_EQ(Post(u, "/generate", {{"inputs", "x"}, {"parameters", {{"top_p", 0.99}}}}).status, 200);
  EXPECT_EQ(Post(u, "/generate", {{"inputs", "x"}, {"parameters", {{"temperature", 0.01}}}}).status,
            200);
  // axum's Json extractor wants the JSON content type.
  httplib::Client c = ClientFor(u);
  httplib::Result text = c.Post("/generate", R"({"inputs":"x"})", "text/plain");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 415);
}

TEST(StandinTgi, StreamFramesEventsAsTgiDoes) {
  StandinUpstream u(Protocol::kTgi);
  Streamed s = PostStream(u, "/generate_stream", kTgiBody);
  ASSERT_TRUE(s.completed);
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.content_type, "text/event-stream");
  EXPECT_EQ(s.body.rfind("data:{", 0), 0u) << "TGI writes no space after `data:`";
  std::vector<std::string> data = s.data();
  ASSERT_EQ(data.size(), 4u);
  for (size_t i = 0; i < 3; ++i) {
    json e = json::parse(data[i]);
    EXPECT_EQ(e["index"], i + 1);
    EXPECT_TRUE(e["generated_text"].is_null());
    EXPECT_TRUE(e["details"].is_null());
  }
  json last = json::parse(data[3]);
  EXPECT_EQ(last["token"]["text"], "!");
  EXPECT_EQ(last["generated_text"], "Hello, world!");
  EXPECT_EQ(last["details"], json({{"finish_reason", "length"},
                                   {"generated_tokens", 4},
                                   {"seed", 42},
                                   {"input_length", 7}}));
}

TEST(StandinTgi, StreamSendsRangeErrorsAsAnEventAfter200) {
  StandinUpstream u(Protocol::kTgi);
  Streamed s =
      PostStream(u, "/generate_stream", {{"inputs", "x"}, {"parameters", {{"top_p", 1.0}}}});
  EXPECT_EQ(s.status, 200);
  std::vector<std::string> data = s.data();
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(json::parse(data[0]),
            json({{"error", "Input validation error: `top_p` must be > 0.0 and < 1.0"},
                  {"error_type", "validation"}}));
}

TEST(StandinTgi, HealthAndInfo) {
  StandinUpstream u(Protocol::kTgi);
  Reply health = Get(u, "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "");
  Reply info = Get(u, "/info");
  ASSERT_EQ(info.status, 200);
  EXPECT_EQ(info.json_body["model_id"], "medassist/standin-model");
  EXPECT_EQ(info.json_body["max_stop_sequences"], 4);
  EXPECT_EQ(info.json_body["router"], "text-generation-router");
}

// ---- OpenAI ---------------------------------------------------------------------------------

TEST(StandinOpenAi, ChatCompletionShape) {
  StandinUpstream u(Protocol::kOpenAi);
  Reply r = Post(u, "/v1/chat/completions", kChatBody);
  ASSERT_EQ(r.status, 200);
  const json& j = r.json_body;
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "m-chat");
  EXPECT_EQ(j["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(j["choices"][0]["message"],
            json({{"role", "assistant"}, {"content", "Hello, world!"}}));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(j["usage"],
            json({{"prompt_tokens", 7}, {"completion_tokens", 4}, {"total_tokens", 11}}));

  json capped = kChatBody;
  capped["max_tokens"] = 2;
  EXPECT_EQ(Post(u, "/v1/chat/completions", capped).json_body["choices"][0]["message"]["content"],
            "Hello,");
  json stopped = kChatBody;
  stopped["stop"] = " wor";
  u.Configure([](UpstreamScript& s) { s.finish_reason = "eos_token"; });
  Reply st = Post(u, "/v1/chat/completions", stopped);
  EXPECT_EQ(st.json_body["choices"][0]["message"]["content"], "Hello,");  // OpenAI cuts the stop
  EXPECT_EQ(st.json_body["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(Post(u, "/v1/chat/completions", kChatBody).json_body["choices"][0]["finish_reason"],
            "stop");  // eos_token maps to stop
}

TEST(StandinOpenAi, ChatLogprobs) {
  StandinUpstream u(Protocol::kOpenAi);
  json body = kChatBody;
  body["logprobs"] = true;
  body["top_logprobs"] = 2;
  Reply r = Post(u, "/v1/chat/completions", body);
  ASSERT_EQ(r.status, 200);
  const json& content = r.json_body["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 4u);
  EXPECT_EQ(content[1]["token"], ",");
  EXPECT_DOUBLE_EQ(content[1]["logprob"].get<double>(), -0.2);
  EXPECT_EQ(content[1]["bytes"], json({44}));
  ASSERT_EQ(content[1]["top_logprobs"].size(), 2u);
  EXPECT_EQ(content[1]["top_logprobs"][0]["token"], ",");
  EXPECT_LT(content[1]["top_logprobs"][1]["logprob"].get<double>(), -0.2);
}

TEST(StandinOpenAi, ChatStreamWithUsage) {
  StandinUpstream u(Protocol::kOpenAi);
  json body = kChatBody;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  Streamed s = PostStream(u, "/v1/chat/completions", body);
  ASSERT_TRUE(s.completed);
  EXPECT_EQ(s.content_type, "text/event-stream");
  EXPECT_EQ(s.body.rfind("data: {", 0), 0u);
  std::vector<std::string> data = s.data();
  ASSERT_EQ(data.size(), 8u);  // role, 4 tokens, finish, usage, [DONE]
  json role = json::parse(data[0]);
  EXPECT_EQ(role["object"], "chat.completion.chunk");
  EXPECT_EQ(role["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  for (size_t i = 1; i <= 4; ++i) {
    json chunk = json::parse(data[i]);
    text += chunk["choices"][0]["delta"]["content"].get<std::string>();
    EXPECT_TRUE(chunk["choices"][0]["finish_reason"].is_null());
    EXPECT_TRUE(chunk.contains("usage") && chunk["usage"].is_null());
  }
  EXPECT_EQ(text, "Hello, world!");
  json finish = json::parse(data[5]);
  EXPECT_EQ(finish["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(finish["choices"][0]["delta"], json::object());
  json usage = json::parse(data[6]);
  EXPECT_EQ(usage["choices"], json::array());
  EXPECT_EQ(usage["usage"]["total_tokens"], 11);
  EXPECT_EQ(data[7], "[DONE]");
}

TEST(StandinOpenAi, LegacyCompletionEchoWithLogprobs) {
  StandinUpstream u(Protocol::kOpenAi);
  Reply r = Post(u, "/v1/completions",
                 {{"model", "m"}, {"prompt", "The patient has"}, {"echo", true}, {"logprobs", 2}});
  ASSERT_EQ(r.status, 200);
  const json& choice = r.json_body["choices"][0];
  EXPECT_EQ(r.json_body["object"], "text_completion");
  EXPECT_EQ(choice["text"], "The patient hasHello, world!");
  const json& lp = choice["logprobs"];
  EXPECT_EQ(lp["tokens"], json({"The", " patient", " has", "Hello", ",", " world", "!"}));
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  EXPECT_TRUE(lp["top_logprobs"][0].is_null());
  EXPECT_DOUBLE_EQ(lp["token_logprobs"][3].get<double>(), -0.1);
  EXPECT_EQ(lp["top_logprobs"][3].size(), 2u);
  EXPECT_DOUBLE_EQ(lp["top_logprobs"][3]["Hello"].get<double>(), -0.1);
  EXPECT_EQ(lp["text_offset"], json({0, 3, 11, 15, 20, 21, 27}));

  // Without echo the offsets still count from the start of the prompt.
  Reply plain = Post(u, "/v1/completions", {{"prompt", "Hi"}, {"logprobs", 0}});
  EXPECT_EQ(plain.json_body["choices"][0]["text"], "Hello, world!");
  EXPECT_EQ(plain.json_body["choices"][0]["logprobs"]["text_offset"][0], 2);
}

TEST(StandinOpenAi, LegacyCompletionStream) {
  StandinUpstream u(Protocol::kOpenAi);
  Streamed s = PostStream(u, "/v1/completions", {{"prompt", "Hi"}, {"stream", true}});
  ASSERT_TRUE(s.completed);
  std::vector<std::string> data = s.data();
  ASSERT_EQ(data.size(), 6u);  // 4 tokens, finish, [DONE]
  EXPECT_EQ(json::parse(data[0])["object"], "text_completion");
  EXPECT_EQ(json::parse(data[2])["choices"][0]["text"], " world");
  EXPECT_EQ(json::parse(data[4])["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(data[5], "[DONE]");

  // echo streams the prompt first; each token chunk carries its own legacy logprobs.
  Streamed e = PostStream(u, "/v1/completions",
                          {{"prompt", "Hi"}, {"stream", true}, {"echo", true}, {"logprobs", 1}});
  std::vector<std::string> edata = e.data();
  ASSERT_EQ(edata.size(), 7u);
  EXPECT_EQ(json::parse(edata[0])["choices"][0]["text"], "Hi");
  const json lp = json::parse(edata[3])["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"], json({" world"}));
  EXPECT_DOUBLE_EQ(lp["token_logprobs"][0].get<double>(), -0.3);
  EXPECT_EQ(lp["text_offset"], json({8}));  // "Hi" + "Hello" + ","
  EXPECT_EQ(lp["top_logprobs"][0], json({{" world", -0.3}}));
}

TEST(StandinOpenAi, InvalidRequestsAre400InOpenAisEnvelope) {
  StandinUpstream u(Protocol::kOpenAi);
  auto with = [](const char* key, json value) {
    json b = kChatBody;
    b[key] = std::move(value);
    return b;
  };
  const std::vector<std::pair<json, std::string>> cases = {
      {with("n", 2), "n"},
      {with("temperature", 3.0), "temperature"},
      {with("top_p", 1.5), "top_p"},
      {with("max_tokens", 0), "max_tokens"},
      {with("messages", json::array()), "messages"},
      {with("top_logprobs", 3), "top_logprobs"},  // without logprobs: true
  };
  for (const auto& [body, param] : cases) {
    Reply r = Post(u, "/v1/chat/completions", body);
    EXPECT_EQ(r.status, 400) << body.dump();
    EXPECT_EQ(r.json_body["error"]["type"], "invalid_request_error") << body.dump();
    EXPECT_EQ(r.json_body["error"]["param"], param) << body.dump();
  }
  EXPECT_EQ(Post(u, "/v1/chat/completions", with("temperature", 3.0)).json_body["error"]["code"],
            "decimal_above_max_value");
  httplib::Client c = ClientFor(u);
  httplib::Result bad = c.Post("/v1/chat/completions", "{not json", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST(StandinOpenAi, ModelsAndHealth) {
  StandinUpstream u(Protocol::kOpenAi);
  Reply models = Get(u, "/v1/models");
  ASSERT_EQ(models.status, 200);
  EXPECT_EQ(models.json_body["object"], "list");
  EXPECT_EQ(models.json_body["data"][0]["id"], "medassist/standin-model");
  EXPECT_EQ(models.json_body["data"][0]["object"], "model");
  EXPECT_EQ(Get(u, "/health").status, 200);
}

// ---- faults, both protocols ----------------------------------------------------------------

struct Case {
  Protocol protocol;
  const char* path;
  json body;
};
const Case kTgi{Protocol::kTgi, "/generate", kTgiBody};
const Case kOpenAi{Protocol::kOpenAi, "/v1/chat/completions", kChatBody};

TEST(StandinFaults, ColdStart503ThenAnswers) {
  for (const Case& c : {kTgi, kOpenAi}) {
    StandinUpstream u(c.protocol);
    u.Configure([](UpstreamScript& s) {
      s.cold_start_503s = 2;
      s.estimated_time = 1.5;
    });
    for (int i = 0; i < 2; ++i) {
      Reply r = Post(u, c.path, c.body);
      EXPECT_EQ(r.status, 503);
      EXPECT_NE(r.json_body.value("error", "").find("is currently loading"), std::string::npos);
      EXPECT_DOUBLE_EQ(r.json_body.value("estimated_time", 0.0), 1.5);
    }
    EXPECT_EQ(Post(u, c.path, c.body).status, 200);
  }
}

TEST(StandinFaults, OverloadedThenServerErrorThenAnswers) {
  StandinUpstream tgi(Protocol::kTgi);
  tgi.Configure([](UpstreamScript& s) {
    s.fail_500s = 1;
    s.overloaded_429s = 1;
  });
  Reply busy = Post(tgi, "/generate", kTgiBody);
  EXPECT_EQ(busy.status, 429);
  EXPECT_EQ(busy.json_body, json({{"error", "Model is overloaded"}, {"error_type", "overloaded"}}));
  Reply broken = Post(tgi, "/generate", kTgiBody);
  EXPECT_EQ(broken.status, 500);
  EXPECT_EQ(broken.json_body["error_type"], "incomplete_generation");
  EXPECT_EQ(Post(tgi, "/generate", kTgiBody).status, 200);

  StandinUpstream oai(Protocol::kOpenAi);
  oai.Configure([](UpstreamScript& s) {
    s.fail_500s = 1;
    s.overloaded_429s = 1;
  });
  Reply limited = Post(oai, "/v1/chat/completions", kChatBody);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.json_body["error"]["code"], "rate_limit_exceeded");
  Reply failed = Post(oai, "/v1/chat/completions", kChatBody);
  EXPECT_EQ(failed.status, 500);
  EXPECT_EQ(failed.json_body["error"]["type"], "server_error");
  EXPECT_EQ(Post(oai, "/v1/chat/completions", kChatBody).status, 200);
}

TEST(StandinFaults, TokenRequiredExceptForHealth) {
  for (const Case& c : {kTgi, kOpenAi}) {
    StandinUpstream u(c.protocol);
    u.Configure([](UpstreamScript& s) { s.required_token = "hf_sekret"; });
    Reply none = Post(u, c.path, c.body);
    EXPECT_EQ(none.status, 401);
    if (c.protocol == Protocol::kTgi) {
      EXPECT_EQ(none.json_body["error_type"], "authentication");
    } else {
      EXPECT_EQ(none.json_body["error"]["code"], "invalid_api_key");
    }
    EXPECT_EQ(Post(u, c.path, c.body, {{"Authorization", "Bearer wrong"}}).status, 401);
    EXPECT_EQ(Post(u, c.path, c.body, {{"Authorization", "Bearer hf_sekret"}}).status, 200);
    EXPECT_EQ(Get(u, "/health").status, 200);

    std::vector<StandinUpstream::Seen> seen = u.requests();
    ASSERT_EQ(seen.size(), 4u);
    EXPECT_EQ(seen[0].authorization, "");
    EXPECT_EQ(seen[1].authorization, "Bearer wrong");
    EXPECT_EQ(seen[2].method, "POST");
    EXPECT_EQ(seen[2].path, c.path);
    EXPECT_EQ(seen[2].authorization, "Bearer hf_sekret");
    EXPECT_EQ(seen[2].body, c.body);
    EXPECT_EQ(seen[3].method, "GET");
    EXPECT_EQ(seen[3].path, "/health");
    EXPECT_TRUE(seen[3].body.is_null());
  }
}

TEST(StandinFaults, MalformedJsonKeepsTheJsonContentType) {
  for (const Case& c : {kTgi, kOpenAi}) {
    StandinUpstream u(c.protocol);
    u.Configure([](UpstreamScript& s) { s.malformed_json = true; });
    Reply r = Post(u, c.path, c.body);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_FALSE(r.body.empty());
    EXPECT_TRUE(json::parse(r.body, nullptr, false).is_discarded()) << r.body;

    json body = c.body;
    body["stream"] = true;
    Streamed s = PostStream(u, c.protocol == Protocol::kTgi ? "/generate_stream" : c.path, body);
    std::vector<std::string> data = s.data();
    ASSERT_EQ(data.size(), 1u);
    EXPECT_TRUE(json::parse(data[0], nullptr, false).is_discarded()) << data[0];
  }
}

TEST(StandinFaults, DropMidStreamBreaksTheTransfer) {
  StandinUpstream tgi(Protocol::kTgi);
  tgi.Configure([](UpstreamScript& s) { s.drop_after_tokens = 2; });
  Streamed t = PostStream(tgi, "/generate_stream", kTgiBody);
  EXPECT_FALSE(t.completed) << "a dropped stream must not end cleanly";
  std::vector<std::string> tdata = t.data();
  ASSERT_EQ(tdata.size(), 2u);
  for (const std::string& d : tdata) EXPECT_TRUE(json::parse(d)["generated_text"].is_null());

  StandinUpstream oai(Protocol::kOpenAi);
  oai.Configure([](UpstreamScript& s) { s.drop_after_tokens = 2; });
  json body = kChatBody;
  body["stream"] = true;
  Streamed o = PostStream(oai, "/v1/chat/completions", body);
  EXPECT_FALSE(o.completed);
  std::vector<std::string> odata = o.data();
  ASSERT_EQ(odata.size(), 3u);  // the role chunk and two tokens; no finish chunk, no [DONE]
  for (const std::string& d : odata) {
    EXPECT_NE(d, "[DONE]");
    EXPECT_TRUE(json::parse(d)["choices"][0]["finish_reason"].is_null());
  }
  EXPECT_EQ(tgi.streams_aborted() + oai.streams_aborted(), 0) << "the script's drop is no abort";
}

TEST(StandinFaults, ClientHangingUpCountsAsAbortedStream) {
  StandinUpstream u(Protocol::kTgi);
  u.Configure([](UpstreamScript& s) {
    s.tokens.assign(40, "tok ");
    s.delay_between_tokens = std::chrono::milliseconds(10);
  });
  Streamed hung = PostStream(u, "/generate_stream", kTgiBody, /*hang_up_after=*/1);
  EXPECT_FALSE(hung.completed);
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (u.streams_aborted() == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(u.streams_aborted(), 1);
  // Complete streams are not counted.
  u.Configure([](UpstreamScript& s) { s.delay_between_tokens = std::chrono::milliseconds(0); });
  EXPECT_TRUE(PostStream(u, "/generate_stream", kTgiBody).completed);
  EXPECT_EQ(u.streams_aborted(), 1);
}

TEST(StandinFaults, DelaysSlowTheHeadersAndThePace) {
  StandinUpstream u(Protocol::kOpenAi);
  u.Configure([](UpstreamScript& s) { s.delay_before_response = std::chrono::milliseconds(120); });
  auto start = Clock::now();
  EXPECT_EQ(Post(u, "/v1/chat/completions", kChatBody).status, 200);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(120));

  u.Configure([](UpstreamScript& s) {
    s.delay_before_response = std::chrono::milliseconds(0);
    s.delay_between_tokens = std::chrono::milliseconds(40);
  });
  json body = kChatBody;
  body["stream"] = true;
  start = Clock::now();
  EXPECT_TRUE(PostStream(u, "/v1/chat/completions", body).completed);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(120));  // 3 gaps between 4 tokens
}

TEST(StandinFaults, StopRefusesConnections) {
  StandinUpstream u(Protocol::kTgi);
  EXPECT_EQ(Get(u, "/health").status, 200);
  u.Stop();
  u.Stop();  // idempotent
  httplib::Client c = ClientFor(u);
  httplib::Result r = c.Get("/health");
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error(), httplib::Error::Connection);
}

TEST(StandinFaults, StopEndsAStreamInProgress) {
  StandinUpstream u(Protocol::kTgi);
  u.Configure([](UpstreamScript& s) {
    s.tokens.assign(100, "x");
    s.delay_between_tokens = std::chrono::milliseconds(50);
  });
  std::thread stopper([&u] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    u.Stop();
  });
  const auto start = Clock::now();
  Streamed s = PostStream(u, "/generate_stream", kTgiBody);
  stopper.join();
  EXPECT_LT(s.data().size(), 100u);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2)) << "Stop must not wait for the stream";
}

}  // namespace
}  // namespace medassist::testing
