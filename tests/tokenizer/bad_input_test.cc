// Hostile text through the real Qwen2.5 tokenizer: invalid UTF-8, encoded surrogates, NUL bytes
// and random bytes (20 MB inputs: huge_input_test.cc). Byte-level BPE can spell any
// bytes, so Decode(Encode(x)) must give x back exactly (after NFC of the plain-text stretches,
// which the tokenizer applies as Hugging Face does), and every id must be valid.
#include <gtest/gtest.h>

#include <climits>
#include <random>
#include <string>
#include <vector>

#include "qwen_fixture.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace medassist::tokenizer {
namespace {

const Tokenizer& Tok() { return testing::QwenFromVocabMerges(); }

// What Decode(Encode(text)) must be: added tokens as their text, the stretches between them in NFC.
std::string ExpectedRoundTrip(std::string_view text, bool parse_special) {
  static const AddedTokenMatcher matcher(Tok().added_tokens());
  std::vector<Fragment> fragments;
  matcher.Split(text, parse_special, fragments);
  std::string out, nfc;
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out += Tok().TokenBytes(f.token);
    } else {
      out += NormalizeNfc(f.text, nfc) ? std::string_view(nfc) : f.text;
    }
  }
  return out;
}

// Encodes text both ways (parse_special off and on) and checks ids and the round trip.
void ExpectRoundTrip(std::string_view text) {
  for (bool parse_special : {false, true}) {
    std::vector<TokenId> ids = Tok().Encode(text, {.parse_special = parse_special});
    for (TokenId id : ids) ASSERT_TRUE(Tok().IsValidId(id)) << id;
    ASSERT_EQ(Tok().Decode(ids), ExpectedRoundTrip(text, parse_special))
        << ::testing::PrintToString(std::string(text.substr(0, 200)));
  }
}

TokenId Find(const std::string& piece) {
  std::optional<TokenId> id = Tok().FindToken(piece);
  CHECK(id.has_value()) << piece;
  return *id;
}

TEST(BadInputTest, InvalidUtf8AndSurrogatesRoundTripExactly) {
  for (const std::string& text : std::vector<std::string>{
           "\xFF", "\xC0\xAF", "abc\xE2\x82", "\xED\xA0\x80", "\xED\xBF\xBF\xED\xA0\x80",
           "\xF4\x90\x80\x80", "\x80\x80", "h\xC3\xA9llo\xFFw\xC3\xB6rld", "\xF0\x9F\x98",
           "caf\xC3\xA9 \xFE\xFE\xFE\n\n\xE4\xB8\xAD", "'\xFFs", " \xFF", "\xFF\xFF\xFF\xFF"}) {
    ExpectRoundTrip(text);
    EXPECT_EQ(Tok().Decode(Tok().Encode(text)), text) << ::testing::PrintToString(text);
  }
  // Single bytes are single tokens, spelled in the byte-level alphabet (0xFF is "ÿ").
  EXPECT_EQ(Tok().Encode("\xFF"), std::vector<TokenId>{Find("\xC3\xBF")});
  EXPECT_EQ(Tok().Encode("\x80"), std::vector<TokenId>{Find(BytesToByteLevel("\x80"))});
  // A lone surrogate decodes to its three bytes, which RepairUtf8 turns into three U+FFFD.
  std::string surrogate = Tok().Decode(Tok().Encode("\xED\xA0\x80"));
  EXPECT_EQ(RepairUtf8(surrogate), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(BadInputTest, NulBytesAreOrdinaryBytes) {
  std::string nul(1, '\0');
  EXPECT_EQ(Tok().Encode(nul), std::vector<TokenId>{Find("\xC4\x80")});  // "Ā" stands for 0x00
  for (const std::string& text : {"a" + nul + "b", nul + nul + nul, nul + "<|im_start|>" + nul,
                                  "<|im_" + nul + "start|>", std::string(1000, '\0')}) {
    ExpectRoundTrip(text);
  }
  // A NUL inside a control token's text stops it from matching.
  for (TokenId id : Tok().Encode("<|im_" + nul + "start|>", {.parse_special = true})) {
    EXPECT_NE(Tok().Kind(id), TokenKind::kControl);
  }
  std::vector<TokenId> ids = Tok().Encode(nul + "<|im_start|>" + nul, {.parse_special = true});
  EXPECT_EQ(ids, (std::vector<TokenId>{Find("\xC4\x80"), 151644, Find("\xC4\x80")}));
}

TEST(BadInputTest, RandomBytesRoundTrip) {
  std::mt19937 rng(8);
  const std::string kPool =
      std::string("ab <|>im_start\n\xC3\xA9\xCC\x81\xE4\xB8\xAD\xED\xA0\x80\xFF") + '\0';
  for (int iter = 0; iter < 3000; ++iter) {
    std::string text(rng() % 65, '\0');
    for (char& c : text) {
      c = iter % 2 == 0 ? static_cast<char>(rng()) : kPool[rng() % kPool.size()];
    }
    ExpectRoundTrip(text);
    if (HasFailure()) return;
  }
  // Text that needs NFC: decoding gives the composed form.
  EXPECT_EQ(Tok().Decode(Tok().Encode("e\xCC\x81")), "\xC3\xA9");
}

// All three file layouts must take the same path through the pre-tokenizer: invalid bytes are
// where the hand-written matcher and PCRE2 differ, so a layout that fell back to PCRE2 would
// give other ids here.
TEST(BadInputTest, EveryLayoutGivesTheSameIdsForHostileText) {
  std::mt19937 rng(9);
  for (int iter = 0; iter < 300; ++iter) {
    std::string text(rng() % 40, '\0');
    for (char& c : text) c = static_cast<char>(rng() % 3 == 0 ? 'a' + rng() % 3 : rng());
    for (bool parse_special : {false, true}) {
      std::vector<TokenId> ids = Tok().Encode(text, {.parse_special = parse_special});
      ASSERT_EQ(testing::QwenFromTokenizerJson().Encode(text, {.parse_special = parse_special}),
                ids);
      ASSERT_EQ(testing::QwenFromGguf().Encode(text, {.parse_special = parse_special}), ids);
    }
  }
}

TEST(BadInputTest, DecodeSkipsIdsOutOfRange) {
  TokenId a = Find("a");
  TokenId b = Find("b");
  std::vector<TokenId> ids = {-1, a, Tok().vocab_size(), INT32_MAX, INT32_MIN, b};
  EXPECT_EQ(Tok().Decode(ids), "ab");
  EXPECT_EQ(Tok().Decode(std::vector<TokenId>{-5, 200000}), "");
  EXPECT_FALSE(Tok().IsValidId(Tok().vocab_size()));
  EXPECT_TRUE(Tok().IsValidId(Tok().vocab_size() - 1));
  EXPECT_EQ(Tok().TokenBytes(-1), "");
  EXPECT_EQ(Tok().TokenPiece(INT32_MAX), "");
  EXPECT_EQ(Tok().Kind(-1), TokenKind::kUnused);
}

}  // namespace
}  // namespace medassist::tokenizer
