#include "tokenizer/streaming_decoder.h"

#include <gtest/gtest.h>

#include <random>

#include "qwen_fixture.h"
#include "tokenizer/unicode.h"

namespace medassist::tokenizer {
namespace {

const Tokenizer& Qwen() { return testing::QwenFromVocabMerges(); }

std::string Stream(const std::vector<TokenId>& ids, std::vector<std::string>* chunks = nullptr) {
  StreamingDecoder dec(Qwen());
  std::string out;
  for (TokenId id : ids) {
    std::string piece = dec.Add(id);
    EXPECT_TRUE(IsValidUtf8(piece)) << "broken UTF-8 emitted after token " << id;
    if (chunks != nullptr) chunks->push_back(piece);
    out += piece;
  }
  std::string tail = dec.Flush();
  EXPECT_TRUE(IsValidUtf8(tail));
  if (chunks != nullptr) chunks->push_back(tail);
  return out + tail;
}

TEST(StreamingDecoderTest, HoldsBackSplitCharactersUntilComplete) {
  // U+2000B (a rare CJK character) is four bytes that Qwen encodes as three tokens.
  std::vector<TokenId> ids = Qwen().Encode("a\U0002000Bb");
  ASSERT_EQ(ids.size(), 5u);
  std::vector<std::string> chunks;
  EXPECT_EQ(Stream(ids, &chunks), "a\U0002000Bb");
  EXPECT_EQ(chunks.front(), "a");
  // Some token in the middle produced nothing: its bytes were held back.
  EXPECT_NE(std::find(chunks.begin(), chunks.end(), std::string()), chunks.end());
}

TEST(StreamingDecoderTest, FlushTurnsAnUnfinishedCharacterIntoReplacement) {
  std::vector<TokenId> ids = Qwen().Encode("\U0002000B");
  ASSERT_EQ(ids.size(), 3u);
  ids.pop_back();  // cut the character short
  StreamingDecoder dec(Qwen());
  std::string out;
  for (TokenId id : ids) out += dec.Add(id);
  EXPECT_EQ(out, "");
  EXPECT_GT(dec.pending_bytes(), 0u);
  EXPECT_EQ(dec.Flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(dec.pending_bytes(), 0u);
}

TEST(StreamingDecoderTest, SkipsSpecialTokensWhenAsked) {
  std::vector<TokenId> ids = Qwen().Encode("<|im_start|>Hi<|im_end|>", {.parse_special = true});
  StreamingDecoder dec(Qwen(), {.skip_special = true});
  std::string out;
  for (TokenId id : ids) out += dec.Add(id);
  EXPECT_EQ(out + dec.Flush(), "Hi");
}

TEST(StreamingDecoderTest, RandomTokenStreamsEqualRepairedWholeDecode) {
  // Random ids (many are single bytes of multi-byte characters, so streams contain broken and
  // invalid sequences): the streamed text must be valid at every step and equal the lossy decode.
  std::mt19937 rng(1234);
  std::uniform_int_distribution<TokenId> any_id(0, Qwen().vocab_size() - 1);
  std::uniform_int_distribution<TokenId> byte_id(0, 255);  // ids 0..255 are byte tokens in Qwen
  for (int round = 0; round < 300; ++round) {
    std::vector<TokenId> ids(1 + rng() % 40);
    for (TokenId& id : ids) id = (rng() % 3 == 0) ? any_id(rng) : byte_id(rng);
    EXPECT_EQ(Stream(ids), RepairUtf8(Qwen().Decode(ids))) << "round " << round;
  }
}

}  // namespace
}  // namespace medassist::tokenizer
