// ChatStreamParser (the SSE reader of `medassist load`): the same timings whatever the byte split,
// and every way a stream can be broken counted as an error.
#include "apps/load_client.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace medassist::apps {
namespace {

using std::chrono::milliseconds;

const LoadClock::time_point kT0{};

// A stream as our server sends it: role chunk, two text chunks, finish chunk, usage, [DONE].
const char kStream[] =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
    ": keep-alive\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}],\"usage\":null}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"lo\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2,"
    "\"total_tokens\":9}}\n\n"
    "data: [DONE]\n\n";

// Feeds `text` in pieces of `piece` bytes, the clock advancing 10 ms per piece.
StreamTiming Parse(std::string_view text, size_t piece) {
  ChatStreamParser p(kT0);
  LoadClock::time_point now = kT0;
  for (size_t i = 0; i < text.size(); i += piece) {
    now += milliseconds(10);
    p.Feed(text.substr(i, piece), now);
  }
  return p.Finish(now + milliseconds(10));
}

TEST(ChatStreamParserTest, ReadsTimingsAndUsage) {
  StreamTiming t = Parse(kStream, sizeof(kStream));  // all in one piece at 10 ms
  ASSERT_TRUE(t.ok) << t.error;
  EXPECT_EQ(t.n_chunks_text, 2);  // the empty role chunk and the finish chunk carry no text
  EXPECT_EQ(t.n_tokens_completion, 2);
  EXPECT_EQ(t.n_tokens_prompt, 7);
  EXPECT_DOUBLE_EQ(t.ttft_s, 0.010);
  ASSERT_EQ(t.gaps_s.size(), 1u);
  EXPECT_DOUBLE_EQ(t.gaps_s[0], 0.0);  // both arrived in one read
  EXPECT_DOUBLE_EQ(t.latency_s, 0.020);
}

TEST(ChatStreamParserTest, AnyByteSplitGivesTheSameCounts) {
  for (size_t piece = 1; piece < 40; ++piece) {
    StreamTiming t = Parse(kStream, piece);
    ASSERT_TRUE(t.ok) << "piece " << piece << ": " << t.error;
    EXPECT_EQ(t.n_chunks_text, 2) << piece;
    EXPECT_EQ(t.n_tokens_completion, 2) << piece;
    EXPECT_EQ(t.gaps_s.size(), 1u) << piece;
    EXPECT_GT(t.ttft_s, 0) << piece;
  }
}

TEST(ChatStreamParserTest, ByteAtATimeGapIsTheTimeBetweenEvents) {
  // Fed one byte per 10 ms, the second text event ends exactly as many bytes after the first.
  std::string a = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n";
  StreamTiming t = Parse(a + a + "data: [DONE]\n\n", 1);
  ASSERT_TRUE(t.ok) << t.error;
  EXPECT_NEAR(t.ttft_s, 0.010 * static_cast<double>(a.size()), 1e-9);
  ASSERT_EQ(t.gaps_s.size(), 1u);
  EXPECT_NEAR(t.gaps_s[0], 0.010 * static_cast<double>(a.size()), 1e-9);
}

TEST(ChatStreamParserTest, AcceptsCrLfEvents) {
  StreamTiming t =
      Parse("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\r\n\r\ndata: [DONE]\r\n\r\n", 3);
  ASSERT_TRUE(t.ok) << t.error;
  EXPECT_EQ(t.n_chunks_text, 1);
  EXPECT_EQ(t.n_tokens_completion, -1);  // no usage sent
}

TEST(ChatStreamParserTest, BrokenStreamsAreErrors) {
  const struct {
    const char* name;
    const char* stream;
    const char* error_part;
  } kCases[] = {
      {"no [DONE]", "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n", "[DONE]"},
      {"cut mid-event", "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: {\"ch",
       "[DONE]"},
      {"empty body", "", "[DONE]"},
      {"error event",
       "data: {\"error\":{\"message\":\"the server is shutting down\",\"code\":503}}\n\n"
       "data: [DONE]\n\n",
       "shutting down"},
      {"not JSON", "data: {\"choices\":\n\ndata: [DONE]\n\n", "not a JSON object"},
      {"JSON array", "data: [1,2]\n\ndata: [DONE]\n\n", "not a JSON object"},
      {"event after [DONE]",
       "data: [DONE]\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n", "after"},
  };
  for (const auto& c : kCases) {
    StreamTiming t = Parse(c.stream, 5);
    EXPECT_FALSE(t.ok) << c.name;
    EXPECT_NE(t.error.find(c.error_part), std::string::npos) << c.name << ": " << t.error;
  }
}

TEST(ChatStreamParserTest, RequestBodyAsksForAStreamWithUsage) {
  nlohmann::json body = nlohmann::json::parse(ChatRequestBody("m", "sys", "hi", 64));
  EXPECT_EQ(body["model"], "m");
  EXPECT_EQ(body["max_tokens"], 64);
  EXPECT_EQ(body["temperature"], 0);
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0]["role"], "system");
  EXPECT_EQ(body["messages"][1]["content"], "hi");
  EXPECT_FALSE(nlohmann::json::parse(ChatRequestBody("", "s", "u", 1)).contains("model"));
}

}  // namespace
}  // namespace medassist::apps
