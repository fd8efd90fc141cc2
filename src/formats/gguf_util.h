// Internal helpers shared by the GGUF reader and writer (not part of the formats API).
#pragma once

#include <string>
#include <string_view>

namespace medassist::formats {

// s in single quotes for an error message: bytes outside printable ASCII become \xNN, and anything
// past the first 80 bytes becomes "...", so that a hostile key cannot flood or corrupt a log line.
std::string QuotePrintable(std::string_view s);

}  // namespace medassist::formats
