// SentencePiece-style BPE from GGUF metadata, against stories260K's reference (llama2.c / llama.cpp
// semantics: space prefix, byte fallback, BOS, and the leading space dropped when decoding).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "tokenizer/streaming_decoder.h"
#include "tokenizer/tokenizer.h"

namespace medassist::tokenizer {
namespace {

using medassist::testing::ReadFileOrFail;
using medassist::testing::SharedDataPath;
using nlohmann::json;

const Tokenizer& Stories() {
  static const Tokenizer t = [] {
    auto r = Tokenizer::Load(SharedDataPath("tiny-models/stories260K/stories260K.gguf"));
    CHECK(r.ok()) << r.status().ToString();
    return std::move(r).value();
  }();
  return t;
}

json Reference() {
  return json::parse(
      ReadFileOrFail(SharedDataPath("tiny-models/stories260K/stories260K_reference.json")));
}

TEST(SentencePieceTest, LoadsVocabularyAndSpecialIds) {
  const Tokenizer& t = Stories();
  EXPECT_EQ(t.type(), TokenizerType::kSentencePieceBpe);
  EXPECT_EQ(t.vocab_size(), 512);
  EXPECT_EQ(t.bos_id(), 1);
  EXPECT_EQ(t.eos_id(), 2);
  EXPECT_TRUE(t.add_bos());
  EXPECT_EQ(t.Kind(1), TokenKind::kControl);
  EXPECT_EQ(t.Kind(3), TokenKind::kByte);
  EXPECT_TRUE(t.chat_template().empty());
}

TEST(SentencePieceTest, EncodeCasesMatchReference) {
  json ref = Reference();
  ASSERT_EQ(ref["encode_cases"].size(), 3u);
  for (const json& c : ref["encode_cases"]) {
    std::string text = c["text"];
    EXPECT_EQ(Stories().Encode(text), c["ids_without_bos"].get<std::vector<TokenId>>()) << text;
    std::vector<TokenId> with_bos = Stories().Encode(text, {.add_bos = true});
    ASSERT_FALSE(with_bos.empty());
    EXPECT_EQ(with_bos[0], 1);
    EXPECT_EQ(Stories().Decode(with_bos), text);
  }
  json p = ref["once_upon_a_time_greedy_16"];
  EXPECT_EQ(Stories().Encode(p["prompt"].get<std::string>(), {.add_bos = true}),
            p["prompt_ids"].get<std::vector<TokenId>>());
}

TEST(SentencePieceTest, DecodesReferenceGenerations) {
  json ref = Reference();
  json g = ref["bos_greedy_200"];
  auto ids = g["generated_ids"].get<std::vector<TokenId>>();
  EXPECT_EQ(Stories().Decode(ids), g["text"].get<std::string>());
  json p = ref["once_upon_a_time_greedy_16"];
  std::vector<TokenId> all = p["prompt_ids"].get<std::vector<TokenId>>();
  for (TokenId id : p["generated_ids"].get<std::vector<TokenId>>()) all.push_back(id);
  EXPECT_EQ(Stories().Decode(all), p["prompt_plus_generation_text"].get<std::string>());
}

TEST(SentencePieceTest, StreamingDecodeEqualsWholeDecode) {
  json g = Reference()["bos_greedy_200"];
  auto ids = g["generated_ids"].get<std::vector<TokenId>>();
  StreamingDecoder dec(Stories());
  std::string streamed;
  streamed += dec.Add(1);  // BOS has no text
  for (TokenId id : ids) streamed += dec.Add(id);
  streamed += dec.Flush();
  EXPECT_EQ(streamed, g["text"].get<std::string>());
}

TEST(SentencePieceTest, ByteFallbackRoundTripsTextOutsideTheVocabulary) {
  std::string text = "Ünïcödé 😀 and \t tabs";
  std::vector<TokenId> ids = Stories().Encode(text);
  bool used_byte_tokens = false;
  for (TokenId id : ids) used_byte_tokens |= Stories().Kind(id) == TokenKind::kByte;
  EXPECT_TRUE(used_byte_tokens);
  EXPECT_EQ(Stories().Decode(ids), text);
}

TEST(SentencePieceTest, ControlTokensParseOnlyWhenAsked) {
  EXPECT_EQ(Stories().Encode("<s>", {.parse_special = true}), std::vector<TokenId>{1});
  std::vector<TokenId> plain = Stories().Encode("<s>");
  EXPECT_GT(plain.size(), 1u);
  for (TokenId id : plain) EXPECT_NE(Stories().Kind(id), TokenKind::kControl);
}

}  // namespace
}  // namespace medassist::tokenizer
