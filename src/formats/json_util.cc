#include "formats/json_util.h"

#include "core/file.h"

namespace medassist::formats {
namespace {

// Depth of [ and { nesting, ignoring brackets inside strings. Returns false when over max_depth.
bool NestingWithin(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

}  // namespace

Status CheckJsonNesting(std::string_view text, std::string_view source, int max_depth) {
  // nlohmann's lexer takes a NUL byte for the end of input and would ignore what follows.
  size_t nul = text.find('\0');
  if (nul != std::string_view::npos) {
    return DataLoss(std::string(source) + ": NUL byte at offset " + std::to_string(nul) +
                    " (JSON text cannot contain one)");
  }
  if (NestingWithin(text, max_depth)) return Status::Ok();
  return DataLoss(std::string(source) + ": JSON nested deeper than " + std::to_string(max_depth) +
                  " levels");
}

Result<nlohmann::json> ParseJson(std::string_view text, std::string_view source, int max_depth) {
  RETURN_IF_ERROR(CheckJsonNesting(text, source, max_depth));
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    return DataLoss(std::string(source) + ": invalid JSON at byte " + std::to_string(e.byte) +
                    ": " + e.what());
  } catch (const std::exception& e) {
    return DataLoss(std::string(source) + ": invalid JSON: " + e.what());
  }
}

Result<nlohmann::json> ReadJsonFile(const std::string& path, size_t max_bytes) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, max_bytes));
  return ParseJson(text, path);
}

Result<std::string> GetString(const nlohmann::json& obj, std::string_view key,
                              std::string_view source) {
  if (!obj.is_object()) return DataLoss(std::string(source) + ": expected a JSON object");
  auto it = obj.find(key);
  if (it == obj.end()) {
    return DataLoss(std::string(source) + ": missing field '" + std::string(key) + "'");
  }
  if (!it->is_string()) {
    return DataLoss(std::string(source) + ": field '" + std::string(key) + "' must be a string");
  }
  return it->get<std::string>();
}

}  // namespace medassist::formats
