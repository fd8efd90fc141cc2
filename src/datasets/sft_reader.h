// Supervised fine-tuning rows (the medical-o1-reasoning-SFT format: `Question`, `Complex_CoT`,
// `Response`) streamed from a JSON array or a JSONL file, one row at a time, in bounded memory:
// the 74 MB medical_o1_sft.json is never held whole. Field names are configurable; fields other
// than the three are skipped whatever they hold.
//
//   SftReadOptions o{.on_malformed = MalformedRows::kSkip};
//   Result<SftReadStats> s = ReadSftRows(path, o, [&](SftRow row) { ...; return true; });
//
// A malformed row (a field missing or not a string, a row that is not an object) is reported with
// its line number: skipped with a warning, or the read refused (DataLoss), as configured; never
// dropped silently. Broken JSON always refuses the file, with the line.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace medassist::datasets {

struct SftRow {
  int64_t line = 0;   // line of the row's start (1-based)
  int64_t index = 0;  // position in the file (0-based), malformed rows counted
  std::string question = {};
  std::string reasoning = {};  // Complex_CoT
  std::string response = {};
};

enum class MalformedRows { kSkip, kRefuse };

struct SftFields {
  std::string question = "Question";
  std::string reasoning = "Complex_CoT";
  std::string response = "Response";
};

struct SftReadOptions {
  SftFields fields = {};
  MalformedRows on_malformed = MalformedRows::kSkip;
  // A single string longer than this is refused (a corrupt file must not exhaust memory).
  size_t max_field_bytes = 1u << 20;
};

struct SftReadStats {
  int64_t rows = 0;                        // delivered to the callback
  int64_t skipped = 0;                     // malformed rows skipped
  std::vector<std::string> problems = {};  // the first 20 skipped rows' reasons, with lines
  int64_t bytes = 0;                       // read from the file
};

// Calls on_row for each well-formed row, in file order; on_row returns false to stop early.
// The format is taken from the first non-blank byte: '[' a JSON array, '{' JSON lines.
Result<SftReadStats> ReadSftRows(const std::string& path, const SftReadOptions& options,
                                 const std::function<bool(SftRow)>& on_row);

}  // namespace medassist::datasets
