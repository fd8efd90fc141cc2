// The per-item results of a run: one JSON object per line, appended and flushed as each item
// finishes, so that an interrupted run loses at most the items in flight and a restart skips the
// items already scored (by set and id).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace medassist::eval {

enum class Protocol { kLoglikelihood, kGenerate };

const char* ProtocolName(Protocol protocol);  // "loglikelihood", "generate"
Result<Protocol> ParseProtocol(std::string_view name);

struct ItemResult {
  std::string set = {};
  std::string id = {};
  std::string prompt = {};  // loglikelihood: the context; generate: the user message
  std::string output = {};  // loglikelihood: the chosen continuation; generate: the model's text
  int32_t answer = -1;
  int32_t pred = -1;       // loglikelihood: acc's choice; generate: the extracted answer (-1: none)
  int32_t pred_norm = -1;  // loglikelihood: acc_norm's choice
  std::vector<double> logprobs = {};  // loglikelihood: per choice
  std::string extraction = {};        // generate: the rule that found pred (extract_answer.h)
  bool correct = false;
  bool correct_norm = false;  // loglikelihood
  std::string error = {};     // the item could not be run (prompt too long): scored wrong
};

// One JSONL row (without the newline); answers are written as letters ("C", null for none).
std::string ItemResultLine(const ItemResult& r, Protocol protocol, const std::string& model);

struct StoredRow {
  ItemResult result = {};
  std::string protocol = {};
  std::string model = {};
};
Result<StoredRow> ParseItemResultLine(std::string_view line);

// The rows of path (none when it does not exist). A last line cut short (no newline, or not JSON:
// the process died while writing it) is dropped, and the file is truncated to the rows before it;
// a bad row anywhere else is DataLoss with its line number.
Result<std::vector<StoredRow>> LoadResultRows(const std::string& path);

// Appends rows to a results file, flushing each one.
class ResultsWriter {
 public:
  static Result<std::unique_ptr<ResultsWriter>> Open(const std::string& path);
  ~ResultsWriter();
  ResultsWriter(const ResultsWriter&) = delete;
  ResultsWriter& operator=(const ResultsWriter&) = delete;
  Status Append(const std::string& line);

 private:
  ResultsWriter(std::FILE* file, std::string path) : file_(file), path_(std::move(path)) {}
  std::FILE* file_;
  std::string path_ = {};
};

}  // namespace medassist::eval
