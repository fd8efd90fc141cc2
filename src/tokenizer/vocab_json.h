// Fast reading of the two big parts of Hugging Face tokenizer files: the vocabulary object
// ({"token": id, ...}, 150k entries) and the merges array. A SAX pass collects them into flat
// vectors instead of building a JSON tree of 300k nodes (that tree cost most of the load time);
// the rest of the document is built as an ordinary nlohmann::json with those two parts set to null.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace medassist::tokenizer {

// NOLINTNEXTLINE(bugprone-exception-escape): its implicit moves only move nlohmann::json and
// vectors
struct BigJsonParts {
  nlohmann::json rest;  // the document, with the collected parts replaced by null
  bool has_vocab = false;
  std::vector<std::pair<std::string, int64_t>> vocab;  // in file order
  bool has_merges = false;
  // Each merge as written: "a b" (one string) or ["a", "b"] (both set, pair = true).
  struct MergeEntry {
    std::string first;
    std::string second;
    bool pair = false;
  };
  std::vector<MergeEntry> merges;
};

// vocab_path / merges_path: keys from the root to the vocab object and merges array ({} for the
// root itself, {"model", "vocab"} in tokenizer.json). A part of the wrong JSON type is an error.
Result<BigJsonParts> ParseBigJson(std::string_view text, const std::string& source,
                                  const std::vector<std::string>& vocab_path,
                                  const std::vector<std::string>& merges_path);

}  // namespace medassist::tokenizer
