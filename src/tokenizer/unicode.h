// The Unicode facts the tokenizer needs: lenient UTF-8 decoding (invalid bytes are kept, never
// dropped), the character classes of the pre-tokenizer regexes, NFC, and lossy UTF-8 repair.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace medassist::tokenizer {

// A decoded step through UTF-8 text. cp is kInvalidCodePoint for a byte that does not start a
// valid, shortest-form sequence (including encoded surrogates); such a byte stands alone (len 1).
inline constexpr uint32_t kInvalidCodePoint = 0xFFFFFFFF;
struct CodePoint {
  uint32_t cp;
  uint32_t len;  // bytes consumed, 1..4
};

// Decodes the character starting at text[pos] (pos < text.size()).
CodePoint DecodeUtf8(std::string_view text, size_t pos);

// Appends the UTF-8 encoding of cp (cp <= 0x10FFFF and not a surrogate).
void AppendUtf8(uint32_t cp, std::string& out);

// Character classes as the regexes see them: \p{L}, \p{N}, \s (Unicode White_Space). An invalid
// byte is none of them (it behaves like punctuation).
enum CharClass : uint8_t {
  kClassOther = 0,
  kClassLetter = 1,
  kClassNumber = 2,
  kClassSpace = 3,
};
CharClass ClassOf(uint32_t cp);

bool IsValidUtf8(std::string_view text);

// Unicode NFC. Valid runs are normalized; invalid bytes are kept as they are. Returns false and
// leaves out untouched when text is already NFC by a quick check (the common case, no copy).
bool NormalizeNfc(std::string_view text, std::string& out);

// Builds NormalizeNfc's quick-check table now (about 4 ms, once per process) instead of on the
// first text that needs it; tokenizers that normalize call it when they load.
void PrepareNfcTables();

// Replaces each maximal invalid subsequence by U+FFFD (as Rust's from_utf8_lossy, which Hugging
// Face decode uses), so that the result is always valid UTF-8.
std::string RepairUtf8(std::string_view bytes);

// Length of the longest prefix of bytes that ends on a character boundary, treating a trailing
// incomplete-but-so-far-valid sequence as not yet complete. Used by the streaming decoder.
size_t CompleteUtf8Prefix(std::string_view bytes);

}  // namespace medassist::tokenizer
