// The reference that the hand-written Qwen2 pre-tokenizer is compared with: PCRE2 running the
// regex, on a copy of the text in which the characters whose class the two sides see differently,
// on purpose, are replaced by a character both sides agree on. Those characters are:
//
//   - invalid UTF-8 bytes: the fast matcher treats each as punctuation (as Hugging Face would treat
//     the U+FFFD of a lossy decode, and as llama.cpp does); PCRE2 in MATCH_INVALID_UTF mode lets
//     no class match them. They become U+FFFD.
//   - code points PCRE2's Unicode tables classify differently from utf8proc's (ClassOf): those one
//     library's Unicode version has not assigned yet, and U+180E, which PCRE2's \s (via \h) still
//     matches although it left White_Space in Unicode 6.3. They become a character of ClassOf's
//     class (Hugging Face's Oniguruma follows White_Space too).
//
// The pieces PCRE2 finds on the copy are mapped back to the original text's offsets. Used by the
// pre-tokenizer tests and by fuzz/pretokenizer_diff_fuzz.cc (header-only, so both can use it).
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"

namespace medassist::tokenizer::testing {

// How PCRE2 (UTF + UCP, as the pre-tokenizer compiles) classes a code point: the same enum as
// ClassOf. Cached per code point; not thread-safe.
class PcreClassTable {
 public:
  PcreClassTable() {
    const char* patterns[3] = {R"(^\p{L}$)", R"(^\p{N}$)", R"(^\s$)"};
    int error = 0;
    PCRE2_SIZE offset = 0;
    for (int k = 0; k < 3; ++k) {
      code_[k] = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(patterns[k]), PCRE2_ZERO_TERMINATED,
                               PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
    }
    unassigned_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(R"(^\p{Cn}$)"), PCRE2_ZERO_TERMINATED,
                                PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
    for (pcre2_code* c : {code_[0], code_[1], code_[2], unassigned_}) {
      if (c == nullptr) std::abort();  // these patterns are constant; PCRE2 always takes them
    }
    match_ = pcre2_match_data_create(4, nullptr);
    cache_.assign(0x110000, -1);
  }
  ~PcreClassTable() {
    for (pcre2_code* c : code_) pcre2_code_free(c);
    pcre2_code_free(unassigned_);
    pcre2_match_data_free(match_);
  }
  PcreClassTable(const PcreClassTable&) = delete;
  PcreClassTable& operator=(const PcreClassTable&) = delete;

  CharClass Class(uint32_t cp) {
    if (cache_[cp] < 0) {
      cache_[cp] = kClassOther;
      if (Matches(code_[0], cp)) cache_[cp] = kClassLetter;
      if (Matches(code_[1], cp)) cache_[cp] = kClassNumber;
      if (Matches(code_[2], cp)) cache_[cp] = kClassSpace;
    }
    return static_cast<CharClass>(cache_[cp]);
  }
  // True when PCRE2's Unicode version has not assigned cp.
  bool Unassigned(uint32_t cp) { return Matches(unassigned_, cp); }

 private:
  bool Matches(pcre2_code* code, uint32_t cp) {
    std::string s;
    AppendUtf8(cp, s);
    return pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, 0, match_,
                       nullptr) >= 0;
  }

  pcre2_code* code_[3] = {};
  pcre2_code* unassigned_ = nullptr;
  pcre2_match_data* match_ = nullptr;
  std::vector<int8_t> cache_;
};

// The copy of text both sides classify alike; starts[i] is the offset in text of the character
// that begins at offset i of the copy (and starts[copy.size()] == text.size()).
struct CanonicalText {
  std::string text;
  std::vector<size_t> starts;
  bool changed = false;
};

inline CanonicalText Canonicalize(std::string_view text, PcreClassTable& pcre) {
  CanonicalText c;
  c.starts.assign(text.size() * 3 + 1, 0);
  for (size_t pos = 0; pos < text.size();) {
    CodePoint d = DecodeUtf8(text, pos);
    std::string_view replacement = text.substr(pos, d.len);
    if (d.cp == kInvalidCodePoint) {
      replacement = "\xEF\xBF\xBD";  // U+FFFD, punctuation-like on both sides
    } else if (d.cp >= 0x80 && ClassOf(d.cp) != pcre.Class(d.cp)) {
      static constexpr std::string_view kStandIn[] = {"\xEF\xBF\xBD", "\xC3\xA9", "\xD9\xA3",
                                                      "\xE3\x80\x80"};  // U+FFFD é ٣ U+3000
      replacement = kStandIn[ClassOf(d.cp)];
    }
    c.changed |= replacement != text.substr(pos, d.len);
    c.starts[c.text.size()] = pos;
    c.text.append(replacement);
    pos += d.len;
  }
  c.starts[c.text.size()] = text.size();
  return c;
}

// PCRE2's pieces of text, computed on the canonical copy and mapped back.
inline std::vector<std::string_view> ReferenceSplit(const PreTokenizer& pre, std::string_view text,
                                                    PcreClassTable& pcre) {
  CanonicalText c = Canonicalize(text, pcre);
  std::vector<std::string_view> pieces;
  pre.SplitWithRegex(c.text, pieces);
  if (!c.changed) {
    for (std::string_view& p : pieces) p = text.substr(p.data() - c.text.data(), p.size());
    return pieces;
  }
  std::vector<std::string_view> mapped;
  for (std::string_view p : pieces) {
    size_t begin = c.starts[p.data() - c.text.data()];
    size_t end = c.starts[p.data() - c.text.data() + p.size()];
    mapped.push_back(text.substr(begin, end - begin));
  }
  return mapped;
}

}  // namespace medassist::tokenizer::testing
