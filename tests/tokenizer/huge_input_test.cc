// 20 MB in one Encode call through the real Qwen2.5 tokenizer: mixed text, a run of one letter and
// a run of spaces (each run is a single pre-tokenizer piece, so it exercises the heap merge loop
// on 20M symbols). Each must finish and decode to the same bytes. About 10 s each in the release
// build, 70-90 s for the runs under AddressSanitizer.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "qwen_fixture.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace medassist::tokenizer {
namespace {

const Tokenizer& Tok() { return testing::QwenFromVocabMerges(); }

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// 20 MB in one Encode call: must finish (the heap merge keeps one-piece runs O(n log n); a
// quadratic loop would take hours) and decode to the same bytes.
void EncodeHuge(const std::string& name, const std::string& text) {
  auto start = std::chrono::steady_clock::now();
  std::vector<TokenId> ids = Tok().Encode(text);
  double encode_s = Seconds(start);
  ASSERT_FALSE(ids.empty());
  EXPECT_LT(ids.size(), text.size()) << name;
  std::string decoded = Tok().Decode(ids);
  std::string nfc;
  EXPECT_TRUE(decoded == (NormalizeNfc(text, nfc) ? nfc : text)) << name << ": round trip differs";
  ::testing::Test::RecordProperty(name + "_encode_seconds", std::to_string(encode_s));
  std::printf("%s: %zu bytes -> %zu tokens in %.2f s\n", name.c_str(), text.size(), ids.size(),
              encode_s);
  EXPECT_LT(encode_s, 300.0) << name;  // a generous bound: only a blow-up fails it
}

constexpr size_t kHuge = size_t{20} << 20;

TEST(HugeInputTest, TwentyMegabytesOfMixedText) {
  const std::vector<std::vector<std::string>> groups = {
      {"the ", "patient ", "presents ", "with ", "it's ", "WE'RE ", "123", "4.5 mg"},
      {", ", ". ", "\n", "\n\n", "  ", "\t", "\xC2\xA0", "\xE3\x80\x80", "(", ")", "'"},
      {"\xE4\xB8\xAD\xE6\x96\x87", "\xC3\xA9t\xC3\xA9", "e\xCC\x81", "\xF0\x9F\x98\x80"},
      {"\xFF", "\xED\xA0\x80"}};
  std::mt19937 rng(20);
  std::string text;
  text.reserve(kHuge + 16);
  while (text.size() < kHuge) {
    const std::vector<std::string>& words = groups[rng() % groups.size()];
    text += words[rng() % words.size()];
  }
  EncodeHuge("mixed", text);
}

TEST(HugeInputTest, TwentyMegabytesOfOneLetter) { EncodeHuge("letters", std::string(kHuge, 'a')); }

TEST(HugeInputTest, TwentyMegabytesOfSpaces) { EncodeHuge("spaces", std::string(kHuge, ' ')); }

}  // namespace
}  // namespace medassist::tokenizer
