// A hand-written matcher for Qwen2's pre-tokenizer regex, equal to it piece for piece:
//
//   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N} | ?[^\s\p{L}\p{N}]+[\r\n]*
//   | \s*[\r\n]+ | \s+(?!\S) | \s+
//
// The alternatives are tried in order at each position, exactly as a backtracking regex engine
// does; the comments on each step say which alternative it is and how its backtracking resolves.
#include <string_view>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"

namespace medassist::tokenizer {
namespace {

struct Char {
  uint32_t cp;
  uint32_t len;
  CharClass cls;
};

inline Char CharAt(std::string_view text, size_t pos) {
  auto c = static_cast<uint8_t>(text[pos]);
  if (c < 0x80) return {c, 1, ClassOf(c)};
  CodePoint d = DecodeUtf8(text, pos);
  return {d.cp, d.len, ClassOf(d.cp)};
}

inline bool IsNewline(uint32_t cp) { return cp == '\r' || cp == '\n'; }

inline uint32_t FoldAscii(uint32_t cp) { return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp; }

// (?i:'s|'t|'re|'ve|'m|'ll|'d) at pos (text[pos] == '\''). Case folding maps U+017F (long s) to s.
size_t ContractionLength(std::string_view text, size_t pos) {
  size_t i = pos + 1;
  if (i >= text.size()) return 0;
  Char a = CharAt(text, i);
  uint32_t fa = a.cp == 0x17F ? 's' : FoldAscii(a.cp);
  if (fa == 's' || fa == 't' || fa == 'm' || fa == 'd') return 1 + a.len;
  if (fa != 'r' && fa != 'v' && fa != 'l') return 0;
  size_t j = i + a.len;
  if (j >= text.size()) return 0;
  Char b = CharAt(text, j);
  uint32_t fb = FoldAscii(b.cp);
  bool ok = (fa == 'r' && fb == 'e') || (fa == 'v' && fb == 'e') || (fa == 'l' && fb == 'l');
  return ok ? 1 + a.len + b.len : 0;
}

size_t SkipClass(std::string_view text, size_t pos, CharClass cls) {
  while (pos < text.size()) {
    Char c = CharAt(text, pos);
    if (c.cls != cls) break;
    pos += c.len;
  }
  return pos;
}

// Whitespace alternatives at pos (text[pos] is whitespace):
//   \s*[\r\n]+  -> backtracks to the last newline of the run and ends just after it;
//   \s+(?!\S)   -> the whole run at the end of text, else the run minus its last character;
//   \s+         -> the whole run (reached only for a one-character run before a non-space).
size_t WhitespaceMatchLength(std::string_view text, size_t pos) {
  size_t end = pos;
  size_t last_newline_end = 0;
  size_t last_char_start = pos;
  while (end < text.size()) {
    Char c = CharAt(text, end);
    if (c.cls != kClassSpace) break;
    last_char_start = end;
    end += c.len;
    if (IsNewline(c.cp)) last_newline_end = end;
  }
  if (last_newline_end != 0) return last_newline_end - pos;
  if (end == text.size()) return end - pos;
  if (last_char_start > pos) return last_char_start - pos;
  return end - pos;
}

}  // namespace

size_t Qwen2MatchLength(std::string_view text, size_t pos) {
  Char c0 = CharAt(text, pos);
  if (c0.cp == '\'') {
    size_t n = ContractionLength(text, pos);
    if (n != 0) return n;
  }
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (c0.cls == kClassLetter) return SkipClass(text, pos, kClassLetter) - pos;
  size_t next = pos + c0.len;
  bool prefix_ok = c0.cls != kClassNumber && !IsNewline(c0.cp);
  if (prefix_ok && next < text.size() && CharAt(text, next).cls == kClassLetter) {
    return SkipClass(text, next, kClassLetter) - pos;
  }
  // \p{N}
  if (c0.cls == kClassNumber) return c0.len;
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  size_t start = c0.cp == ' ' ? next : pos;
  size_t end = SkipClass(text, start, kClassOther);
  if (end > start) {
    while (end < text.size() && IsNewline(static_cast<uint8_t>(text[end]))) ++end;
    return end - pos;
  }
  return WhitespaceMatchLength(text, pos);
}

}  // namespace medassist::tokenizer
