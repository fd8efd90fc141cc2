#include "train/metrics_history.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "core/file.h"
#include "formats/json_util.h"
#include "train/metrics_log.h"

namespace medassist::train {
namespace {

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

Status AddValue(MetricsHistory& h, int64_t step, const std::string& key,
                const nlohmann::json& value, std::string_view where) {
  if (value.is_null()) {
    h.series[key][step] = std::numeric_limits<double>::quiet_NaN();
  } else if (value.is_number()) {
    h.series[key][step] = value.get<double>();
  } else {
    return DataLoss(
        fmt::format("{}: '{}' must be a number or null, got {}", where, key, value.type_name()));
  }
  return Status::Ok();
}

Status AddLine(MetricsHistory& h, const nlohmann::json& line, std::string_view where) {
  if (!line.is_object()) return DataLoss(fmt::format("{}: expected a JSON object", where));
  auto step = line.find(kJsonlStep);
  if (step == line.end() || !step->is_number_integer()) {
    return DataLoss(fmt::format("{}: missing integer \"step\"", where));
  }
  int64_t s = step->get<int64_t>();
  for (const auto& [key, value] : line.items()) {
    if (key == kJsonlStep) continue;
    if (key == kJsonlTime) {
      if (!value.is_number()) return DataLoss(fmt::format("{}: \"time\" must be a number", where));
      double t = value.get<double>();
      if (h.first_time == 0) h.first_time = t;
      h.last_time = t;
      continue;
    }
    RETURN_IF_ERROR(AddValue(h, s, key, value, where));
  }
  ++h.n_lines;
  return Status::Ok();
}

}  // namespace

const std::map<int64_t, double>* MetricsHistory::Find(std::string_view name) const {
  auto it = series.find(std::string(name));
  return it == series.end() ? nullptr : &it->second;
}

Result<MetricsHistory> ParseMetricsJsonl(std::string_view text, std::string_view source) {
  MetricsHistory h;
  size_t begin = 0;
  for (int64_t line_no = 1; begin < text.size(); ++line_no) {
    size_t end = text.find('\n', begin);
    bool complete = end != std::string_view::npos;
    std::string_view line = text.substr(begin, complete ? end - begin : std::string_view::npos);
    begin = complete ? end + 1 : text.size();
    if (IsBlank(line)) continue;
    std::string where = fmt::format("{} line {}", source, line_no);
    Result<nlohmann::json> json = formats::ParseJson(line, where);
    if (!json.ok() && !complete) {
      h.warnings.push_back(fmt::format(
          "{}: incomplete last line skipped (was the run stopped while writing it?)", where));
      break;
    }
    if (!json.ok()) return json.status();
    RETURN_IF_ERROR(AddLine(h, *json, where));
  }
  return h;
}

Result<MetricsHistory> ReadMetricsJsonl(const std::string& path) {
  if (!FileExists(path)) {
    return NotFound(fmt::format(
        "{} not found: is this a training run folder? (the trainer writes metrics.jsonl there)",
        path));
  }
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseMetricsJsonl(text, path);
}

}  // namespace medassist::train
