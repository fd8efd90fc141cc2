// JSON files (config.json, tokenizer.json, safetensors headers) parsed without letting an exception
// escape: every failure becomes a Status naming the file and the problem.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "core/status.h"

namespace medassist::formats {

// Parses text as JSON. source names the file in error messages. Depth is limited so that hostile
// input ("[[[[...") cannot exhaust the stack.
Result<nlohmann::json> ParseJson(std::string_view text, std::string_view source,
                                 int max_depth = 128);

// Refuses text whose [ and { nest deeper than max_depth (hostile "[[[[..." input) or that holds a
// NUL byte (nlohmann would stop reading there), naming source.
Status CheckJsonNesting(std::string_view text, std::string_view source, int max_depth = 128);

// Reads and parses a JSON file (refusing files larger than max_bytes).
Result<nlohmann::json> ReadJsonFile(const std::string& path, size_t max_bytes = size_t{512} << 20);

// Typed field access that reports "file: field 'x' must be a string" instead of throwing.
Result<std::string> GetString(const nlohmann::json& obj, std::string_view key,
                              std::string_view source);

}  // namespace medassist::formats
