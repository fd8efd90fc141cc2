// A run's metrics.jsonl (written by MetricsLog) read back as one series per metric name, for the
// training report and for tools that compare runs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace medassist::train {

struct MetricsHistory {
  // name -> step -> value (NaN where the line had null). A step logged twice (a run resumed from
  // an earlier checkpoint logs its steps again) keeps the later value, as TensorBoard shows it.
  std::map<std::string, std::map<int64_t, double>> series;
  int64_t n_lines = 0;    // lines read, blank and skipped ones excluded
  double first_time = 0;  // "time" of the first and last line with one (Unix seconds)
  double last_time = 0;
  std::vector<std::string> warnings;  // e.g. a truncated last line that was skipped

  // The series of a name, or nullptr when no line had it.
  const std::map<int64_t, double>* Find(std::string_view name) const;
};

// Parses metrics.jsonl text; source names it in errors ("RUN/metrics.jsonl line 7: ...").
// Every line must be a JSON object with an integer "step"; other values must be numbers or null.
// An unparseable last line without its newline (a run killed mid-write) is skipped with a warning.
Result<MetricsHistory> ParseMetricsJsonl(std::string_view text, std::string_view source);
Result<MetricsHistory> ReadMetricsJsonl(const std::string& path);

}  // namespace medassist::train
