// The pre-tokenizer: the hand-written Qwen2 matcher against PCRE2 running the same regex (random
// text over an alphabet that reaches every alternative, every code point in a few contexts), the
// documented places where the two see characters differently, and hand-checked splits of the
// GPT-2 and Llama 3 regexes.
#include "tokenizer/pretokenizer.h"

#include <gtest/gtest.h>
#include <utf8proc.h>

#include <random>
#include <string>
#include <vector>

#include "split_reference.h"
#include "tokenizer/unicode.h"

namespace medassist::tokenizer {
namespace {

using Pieces = std::vector<std::string_view>;
using Strings = std::vector<std::string>;

const PreTokenizer& Qwen2() {
  static const PreTokenizer p = std::move(PreTokenizer::FromPattern(kQwen2Pattern)).value();
  return p;
}

testing::PcreClassTable& PcreClasses() {
  static testing::PcreClassTable table;
  return table;
}

Strings ToStrings(const Pieces& pieces) { return Strings(pieces.begin(), pieces.end()); }

Strings FastSplit(const PreTokenizer& p, std::string_view text) {
  Pieces pieces;
  p.Split(text, pieces);
  return ToStrings(pieces);
}

Strings RegexSplit(const PreTokenizer& p, std::string_view text) {
  Pieces pieces;
  p.SplitWithRegex(text, pieces);
  return ToStrings(pieces);
}

std::string Join(const Strings& pieces) {
  std::string s;
  for (const std::string& p : pieces) s += p;
  return s;
}

Strings Flatten(std::initializer_list<Strings> groups) {
  Strings out;
  for (const Strings& g : groups) out.insert(out.end(), g.begin(), g.end());
  return out;
}

// Valid UTF-8 on which both sides classify every character alike, chosen to reach every
// alternative of the Qwen2 regex and every backtracking path of its whitespace alternatives.
const Strings kAgreedAlphabet = Flatten({
    // Contractions in every case, long s (U+017F folds to s), apostrophes before other letters.
    {"'", "'s", "'S", "'t", "'T", "'re", "'RE", "'rE", "'ve", "'VE", "'m", "'M", "'ll", "'LL"},
    {"'lL", "'d", "'D", "'\xC5\xBF", "\xC5\xBF", "'r", "'l", "'v", "'x"},
    // Letters (Latin, CJK, Hangul, Greek) and numbers (Arabic-Indic 3, one half, roman twelve).
    {"a", "Z", "\xC3\xA9", "\xC3\x9F", "\xE4\xB8\xAD", "\xED\x95\x9C", "\xCE\xA9"},
    {"0", "7", "\xD9\xA3", "\xC2\xBD", "\xE2\x85\xAB"},
    // Whitespace: ASCII, NBSP, U+3000, NEL, U+2028, U+1680.
    {" ", " ", " ", "  ", "\t", "\r", "\n", "\r\n", "\n\n", "\v", "\f"},
    {"\xC2\xA0", "\xE3\x80\x80", "\xC2\x85", "\xE2\x80\xA8", "\xE1\x9A\x80"},
    // Punctuation and symbols, emoji with a skin tone, combining marks, ZWSP, BOM, NUL.
    {".", ",", "!", "?", "-", "\"", "(", "_", "$", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"},
    {"\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", "\xCC\x81", "\xCC\x88", "\xE2\x80\x8B", "\xEF\xBB\xBF"},
    {std::string(1, '\0')},
});

// Characters the two sides see differently on purpose (split_reference.h says why): invalid
// bytes and truncated sequences, and U+180E.
const Strings kDisagreedAlphabet = {"\xFF", "\xC3",     "\xE2\x82", "\xF0\x9F\x98", "\xED\xA0\x80",
                                    "\x80", "\xC0\xAF", "\xF5",     "\xE1\xA0\x8E"};

std::string RandomText(std::mt19937& rng, const Strings& alphabet, const Strings& extra) {
  std::string s;
  size_t n = 1 + rng() % 24;
  for (size_t i = 0; i < n; ++i) {
    bool rare = !extra.empty() && rng() % 6 == 0;
    s += rare ? extra[rng() % extra.size()] : alphabet[rng() % alphabet.size()];
  }
  return s;
}

TEST(PreTokenizerTest, OnlyQwen2HasTheFastPath) {
  EXPECT_TRUE(Qwen2().has_fast_path());
  EXPECT_EQ(Qwen2().pattern(), kQwen2Pattern);
  for (const char* p : {kGpt2Pattern, kLlama3Pattern}) {
    auto pre = PreTokenizer::FromPattern(p);
    ASSERT_TRUE(pre.ok()) << pre.status().ToString();
    EXPECT_FALSE(pre->has_fast_path());
  }
}

TEST(PreTokenizerTest, FastPathEqualsRegexOnRandomValidText) {
  std::mt19937 rng(2024);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string text = RandomText(rng, kAgreedAlphabet, {});
    Strings fast = FastSplit(Qwen2(), text);
    ASSERT_EQ(fast, RegexSplit(Qwen2(), text)) << ::testing::PrintToString(text);
    ASSERT_EQ(Join(fast), text);
    for (const std::string& p : fast) ASSERT_FALSE(p.empty());
  }
}

TEST(PreTokenizerTest, FastPathEqualsReferenceWithInvalidBytesAndVersionGaps) {
  std::mt19937 rng(99);
  int differs_from_raw_regex = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string text = RandomText(rng, kAgreedAlphabet, kDisagreedAlphabet);
    Pieces fast;
    Qwen2().Split(text, fast);
    ASSERT_EQ(ToStrings(fast), ToStrings(testing::ReferenceSplit(Qwen2(), text, PcreClasses())))
        << ::testing::PrintToString(text);
    ASSERT_EQ(Join(ToStrings(fast)), text);
    differs_from_raw_regex += ToStrings(fast) != RegexSplit(Qwen2(), text);
  }
  EXPECT_GT(differs_from_raw_regex, 1000);  // the disagreements are real, and reached
}

// Every code point, in contexts that put it in each alternative's position: after an apostrophe,
// as the optional prefix of a word, inside a run of punctuation, and next to newlines.
TEST(PreTokenizerTest, FastPathEqualsReferenceForEveryCodePoint) {
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    if (cp >= 0x10000 && cp % 5 != 0 && (cp < 0x1F000 || cp > 0x1FFFF)) continue;  // sampled
    std::string c;
    AppendUtf8(cp, c);
    std::string text = "x'" + c + " " + c + "ab" + c + c + "!" + c + "\n" + c + " 1" + c;
    Pieces fast;
    Qwen2().Split(text, fast);
    ASSERT_EQ(ToStrings(fast), ToStrings(testing::ReferenceSplit(Qwen2(), text, PcreClasses())))
        << "U+" << std::hex << cp;
  }
}

// ClassOf (utf8proc) against PCRE2's own \p{L}, \p{N} and \s. They may differ only where one
// library's Unicode version has not assigned the code point yet, and on U+180E (see ClassOfTest).
TEST(PreTokenizerTest, CharacterClassesAgreeWithPcre2WhereBothAssignTheCodePoint) {
  int differences = 0;
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    CharClass ours = ClassOf(cp);
    CharClass pcre = PcreClasses().Class(cp);
    if (ours == pcre) continue;
    ++differences;
    bool explained = cp == 0x180E || PcreClasses().Unassigned(cp) ||
                     utf8proc_category(static_cast<utf8proc_int32_t>(cp)) == UTF8PROC_CATEGORY_CN;
    ASSERT_TRUE(explained) << "U+" << std::hex << cp << " ClassOf " << int{ours} << " PCRE2 "
                           << int{pcre};
  }
  EXPECT_GE(differences, 1);  // U+180E at least
  EXPECT_EQ(PcreClasses().Class(0x180E), kClassSpace);
  EXPECT_EQ(ClassOf(0x180E), kClassOther);
}

// Invalid bytes: the fast matcher treats each as punctuation, PCRE2 leaves them in gaps. Both cover
// the text exactly, so byte-level BPE still round-trips, but the pieces (hence ids) differ.
TEST(PreTokenizerTest, InvalidBytesArePunctuationForTheFastPathOnly) {
  EXPECT_EQ(FastSplit(Qwen2(),
                      "\xFF"
                      "abc"),
            (Strings{"\xFF"
                     "abc"}));
  EXPECT_EQ(RegexSplit(Qwen2(),
                       "\xFF"
                       "abc"),
            (Strings{"\xFF", "abc"}));
  EXPECT_EQ(FastSplit(Qwen2(), "a \xFF\xFE!\n"), (Strings{"a", " \xFF\xFE!\n"}));
  EXPECT_EQ(RegexSplit(Qwen2(), "a \xFF\xFE!\n"), (Strings{"a", " ", "\xFF\xFE", "!\n"}));
  EXPECT_EQ(FastSplit(Qwen2(), "x  \xED\xA0\x80"), (Strings{"x", " ", " \xED\xA0\x80"}));
  EXPECT_EQ(RegexSplit(Qwen2(), "x  \xED\xA0\x80"), (Strings{"x", "  ", "\xED\xA0\x80"}));
  // The fast path's pieces are what PCRE2 gives when each invalid byte is U+FFFD.
  EXPECT_EQ(FastSplit(Qwen2(), "a \xEF\xBF\xBD\xEF\xBF\xBD!\n"),
            RegexSplit(Qwen2(), "a \xEF\xBF\xBD\xEF\xBF\xBD!\n"));
}

TEST(PreTokenizerTest, Qwen2SplitsHandCheckedExamples) {
  struct Case {
    std::string text;
    Strings pieces;
  };
  for (const Case& c : std::vector<Case>{
           {"Hello, World! It's 2024.",
            {"Hello", ",", " World", "!", " It", "'s", " ", "2", "0", "2", "4", "."}},
           {"WE'RE HERE'LL it'\xC5\xBFo", {"WE", "'RE", " HERE", "'LL", " it", "'\xC5\xBF", "o"}},
           {"don't\n\n  x", {"don", "'t", "\n\n", " ", " x"}},
           {"a\xC2\x85\nb", {"a", "\xC2\x85\n", "b"}},
           {"\xC2\xA0word \xE3\x80\x80\xE4\xB8\xAD",
            {"\xC2\xA0word", " ", "\xE3\x80\x80\xE4\xB8\xAD"}},
           {"x  \t", {"x", "  \t"}},
           {"...\r\n\r\nok  ", {"...\r\n\r\n", "ok", "  "}},
           {"'", {"'"}},
           {"''s", {"''", "s"}},  // the punctuation run wins over the contraction
           {"$100", {"$", "1", "0", "0"}},
           {"\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C",
            {"\xE4\xBD\xA0\xE5\xA5\xBD", "\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C"}}}) {
    EXPECT_EQ(FastSplit(Qwen2(), c.text), c.pieces) << ::testing::PrintToString(c.text);
    EXPECT_EQ(RegexSplit(Qwen2(), c.text), c.pieces) << ::testing::PrintToString(c.text);
  }
}

TEST(PreTokenizerTest, Gpt2AndLlama3SplitHandCheckedExamples) {
  auto gpt2 = PreTokenizer::FromPattern(kGpt2Pattern);
  auto llama3 = PreTokenizer::FromPattern(kLlama3Pattern);
  ASSERT_TRUE(gpt2.ok() && llama3.ok());
  EXPECT_EQ(FastSplit(*gpt2, "Hello world's 123 tests!!  ok\n"),
            (Strings{"Hello", " world", "'s", " 123", " tests", "!!", " ", " ok", "\n"}));
  EXPECT_EQ(FastSplit(*gpt2, "DON'T stop"), (Strings{"DON", "'", "T", " stop"}));
  EXPECT_EQ(FastSplit(*gpt2, "a\n\nb"), (Strings{"a", "\n", "\n", "b"}));
  EXPECT_EQ(FastSplit(*llama3, "I've 12345 apples\r\n\r\nyes"),
            (Strings{"I", "'ve", " ", "123", "45", " apples", "\r\n\r\n", "yes"}));
  EXPECT_EQ(FastSplit(*llama3, "DON'T stop"), (Strings{"DON", "'T", " stop"}));
  EXPECT_EQ(FastSplit(*llama3, "x=1;\n"), (Strings{"x", "=", "1", ";\n"}));
}

TEST(PreTokenizerTest, EveryPatternCoversRandomBytesExactly) {
  std::mt19937 rng(5);
  for (const char* pattern : {kQwen2Pattern, kGpt2Pattern, kLlama3Pattern}) {
    auto pre = PreTokenizer::FromPattern(pattern);
    ASSERT_TRUE(pre.ok());
    for (int iter = 0; iter < 3000; ++iter) {
      std::string text = RandomText(rng, kAgreedAlphabet, kDisagreedAlphabet);
      if (iter % 3 == 0) {
        for (char& c : text) c = static_cast<char>(rng() % 3 == 0 ? rng() : c);
      }
      for (const Strings& pieces : {FastSplit(*pre, text), RegexSplit(*pre, text)}) {
        ASSERT_EQ(Join(pieces), text) << pattern;
        for (const std::string& p : pieces) ASSERT_FALSE(p.empty());
      }
    }
  }
}

TEST(PreTokenizerTest, EmptyTextHasNoPieces) {
  Pieces pieces = {"stale"};
  Qwen2().Split("", pieces);
  EXPECT_TRUE(pieces.empty());
  pieces = {"stale"};
  Qwen2().SplitWithRegex("", pieces);
  EXPECT_TRUE(pieces.empty());
}

TEST(PreTokenizerTest, InvalidRegexIsInvalidArgumentNamingTheOffset) {
  auto r = PreTokenizer::FromPattern("(abc");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("does not compile at offset 4"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("missing closing parenthesis"), std::string::npos)
      << r.status().message();
  r = PreTokenizer::FromPattern(R"(ab\p{Nonsense})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("offset 14"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace medassist::tokenizer
