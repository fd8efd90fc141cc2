// GPT-2's byte-level alphabet: each of the 256 byte values is shown as one printable character
// ("Ġ" for a space), so that BPE vocabularies can be stored as text. We keep tokens as raw bytes
// internally and convert only at the file and display edges.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace medassist::tokenizer {

// The printable code point standing for byte b.
uint32_t ByteToUnicode(uint8_t b);

// Raw bytes -> byte-level text ("hi there" -> "hiĠthere").
std::string BytesToByteLevel(std::string_view bytes);

// Byte-level text -> raw bytes, or nullopt if text holds a character outside the alphabet.
std::optional<std::string> ByteLevelToBytes(std::string_view text);

}  // namespace medassist::tokenizer
