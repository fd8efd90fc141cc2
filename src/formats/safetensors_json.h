// Internal JSON helpers shared by the safetensors reader and the sharded-model loader (not part of
// the formats API).
#pragma once

#include <string_view>

#include "core/status.h"

namespace medassist::formats {

// Refuses JSON text in which one object holds the same key twice. nlohmann keeps only the last of
// duplicates, so a file with "w": {...} twice would mean different tensors to different readers;
// we refuse it instead. Run it after ParseJson has accepted the text (syntax errors are reported
// there); the message is "<source>: duplicate key '<key>' in a JSON object".
Status CheckJsonUniqueKeys(std::string_view text, std::string_view source);

}  // namespace medassist::formats
