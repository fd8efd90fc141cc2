#include "net/sse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace medassist::net {
namespace {

std::vector<SseEvent> ParseInPieces(const std::string& text, size_t piece) {
  SseParser parser;
  std::vector<SseEvent> events;
  for (size_t i = 0; i < text.size(); i += piece) {
    EXPECT_TRUE(parser.Push(std::string_view(text).substr(i, piece), [&](const SseEvent& e) {
      events.push_back(e);
      return true;
    }));
  }
  return events;
}

TEST(SseParserTest, EventsAreTheSameWhateverTheChunking) {
  const std::string text =
      ": keep-alive\n\n"
      "data:{\"a\":1}\n\n"
      "data: {\"b\":2}\r\n\r\n"
      "event: error\rdata: first\rdata: second\r\r"
      "id: 7\ndata:\ndata: x\n\n"
      "data: [DONE]\n\n";
  for (size_t piece : {1u, 2u, 3u, 7u, 1000u}) {
    std::vector<SseEvent> events = ParseInPieces(text, piece);
    ASSERT_EQ(events.size(), 5u) << "piece " << piece;
    EXPECT_EQ(events[0].data, "{\"a\":1}");
    EXPECT_EQ(events[1].data, "{\"b\":2}");
    EXPECT_EQ(events[2].event, "error");
    EXPECT_EQ(events[2].data, "first\nsecond");
    EXPECT_EQ(events[3].id, "7");
    EXPECT_EQ(events[3].data, "\nx");
    EXPECT_EQ(events[4].data, "[DONE]");
  }
}

TEST(SseParserTest, AnUnfinishedEventIsHeldNotDispatched) {
  SseParser parser;
  int n = 0;
  EXPECT_TRUE(parser.Push("data: partial\n", [&](const SseEvent&) { return ++n, true; }));
  EXPECT_EQ(n, 0);
  EXPECT_TRUE(parser.has_partial());
  EXPECT_TRUE(parser.Push("\n", [&](const SseEvent&) { return ++n, true; }));
  EXPECT_EQ(n, 1);
  EXPECT_FALSE(parser.has_partial());
}

TEST(SseParserTest, StopsWhenTheCallbackSaysSo) {
  SseParser parser;
  int n = 0;
  EXPECT_FALSE(parser.Push("data: 1\n\ndata: 2\n\n", [&](const SseEvent&) { return ++n, false; }));
  EXPECT_EQ(n, 1);
}

TEST(SseParserTest, RefusesAnEndlessLine) {
  SseParser parser;
  std::string big(SseParser::kMaxLineBytes + 1, 'x');
  EXPECT_FALSE(parser.Push(big, [](const SseEvent&) { return true; }));
  EXPECT_TRUE(parser.overflowed());
}

}  // namespace
}  // namespace medassist::net
