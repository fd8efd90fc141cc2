#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/unicode.h"

namespace medassist::tokenizer {
namespace {

// Printable Latin-1 bytes stand for themselves; the other 68 map, in order, to U+0100 and up.
struct ByteTables {
  std::array<uint32_t, 256> byte_to_cp{};
  std::array<int16_t, 512> cp_to_byte{};  // every code point used is < 0x200
};

ByteTables MakeTables() {
  ByteTables t;
  t.cp_to_byte.fill(-1);
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    uint32_t cp = printable ? b : next++;
    t.byte_to_cp[b] = cp;
    t.cp_to_byte[cp] = static_cast<int16_t>(b);
  }
  return t;
}

const ByteTables& Tables() {
  static const ByteTables tables = MakeTables();
  return tables;
}

}  // namespace

uint32_t ByteToUnicode(uint8_t b) { return Tables().byte_to_cp[b]; }

std::string BytesToByteLevel(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) AppendUtf8(ByteToUnicode(static_cast<uint8_t>(c)), out);
  return out;
}

std::optional<std::string> ByteLevelToBytes(std::string_view text) {
  const ByteTables& t = Tables();
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    CodePoint c = DecodeUtf8(text, i);
    if (c.cp >= t.cp_to_byte.size() || t.cp_to_byte[c.cp] < 0) return std::nullopt;
    out.push_back(static_cast<char>(t.cp_to_byte[c.cp]));
    i += c.len;
  }
  return out;
}

}  // namespace medassist::tokenizer
