#include "train/train_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "core/file.h"
#include "formats/json_util.h"
#include "train/metrics_log.h"
#include "train/svg_chart.h"

namespace medassist::train {
namespace {

using Series = std::map<int64_t, double>;

struct SeriesDef {
  std::string_view name;
  const char* label;
  bool markers = false;  // eval points: markers over the train line
};

struct ChartDef {
  const char* title;
  const char* unit;
  std::vector<SeriesDef> series;
  bool y_from_zero = false;
};

const std::vector<ChartDef>& FixedCharts() {
  static const std::vector<ChartDef> charts = {
      {"Loss",
       "cross-entropy (nats/token)",
       {{kMetricLoss, "train"}, {kMetricEvalLoss, "eval", true}}},
      {"Mean token accuracy",
       "fraction of tokens",
       {{kMetricMeanTokenAccuracy, "train"}, {kMetricEvalMeanTokenAccuracy, "eval", true}}},
      {"Entropy of the predictions",
       "nats/token",
       {{kMetricEntropy, "train"}, {kMetricEvalEntropy, "eval", true}}},
      {"Learning rate", "learning rate", {{kMetricLearningRate, "learning_rate"}}},
      {"Gradient norm", "L2 norm", {{kMetricGradNorm, "grad_norm"}}},
      {"Training throughput", "tokens/s", {{kMetricTrainTokensPerSecond, "train tokens/s"}}, true},
      {"Process CPU", "% of one core", {{kMetricSystemCpuPercent, "cpu_percent"}}, true},
      {"Process memory", "resident (MB)", {{kMetricSystemProcessRssMb, "process_rss_mb"}}, true},
      {"System memory used", "% of RAM", {{kMetricSystemMemoryUsedPercent, "memory_used"}}, true},
  };
  return charts;
}

struct GpuChartDef {
  std::string_view what;
  const char* title;
  const char* unit;
};
constexpr GpuChartDef kGpuCharts[] = {
    {kGpuUtilizationPercent, "GPU utilization", "% of time busy"},
    {kGpuMemoryUsedMb, "GPU memory used", "MB"},
    {kGpuTemperatureC, "GPU temperature", "°C"},
    {kGpuPowerW, "GPU power", "W"},
};

std::vector<std::pair<double, double>> Points(const Series& s) {
  std::vector<std::pair<double, double>> points;
  points.reserve(s.size());
  for (const auto& [step, value] : s) points.emplace_back(static_cast<double>(step), value);
  return points;
}

bool HasFinite(const Series& s) {
  for (const auto& [step, value] : s) {
    if (std::isfinite(value)) return true;
  }
  return false;
}

// Adds the chart when at least one of its series has a value.
void AddChart(const Chart& chart, std::vector<std::string>& svgs) {
  for (const ChartSeries& s : chart.series) {
    for (const auto& [x, y] : s.points) {
      if (std::isfinite(y)) {
        svgs.push_back(RenderSvgChart(chart));
        return;
      }
    }
  }
}

// GPU indices N found in "system/gpu.N.*" names.
std::vector<int> GpuIndices(const MetricsHistory& h) {
  std::vector<int> indices;
  constexpr std::string_view kPrefix = "system/gpu.";
  for (const auto& [name, series] : h.series) {
    if (!name.starts_with(kPrefix)) continue;
    int index = 0;
    if (std::sscanf(name.c_str() + kPrefix.size(), "%d.", &index) != 1 || index < 0) continue;
    if (std::find(indices.begin(), indices.end(), index) == indices.end()) {
      indices.push_back(index);
    }
  }
  std::sort(indices.begin(), indices.end());
  return indices;
}

std::vector<std::string> Charts(const MetricsHistory& h) {
  std::vector<std::string> svgs;
  for (const ChartDef& def : FixedCharts()) {
    Chart chart;
    chart.title = def.title;
    chart.y_unit = def.unit;
    chart.y_from_zero = def.y_from_zero;
    for (const SeriesDef& s : def.series) {
      if (const Series* series = h.Find(s.name)) {
        chart.series.push_back({s.label, Points(*series), s.markers});
      }
    }
    AddChart(chart, svgs);
  }
  std::vector<int> gpus = GpuIndices(h);
  for (const GpuChartDef& def : kGpuCharts) {
    Chart chart;
    chart.title = def.title;
    chart.y_unit = def.unit;
    chart.y_from_zero = true;
    for (int gpu : gpus) {
      if (const Series* series = h.Find(GpuMetricName(gpu, def.what))) {
        chart.series.push_back({fmt::format("gpu {}", gpu), Points(*series)});
      }
    }
    AddChart(chart, svgs);
  }
  return svgs;
}

std::string Duration(double seconds) {
  auto s = static_cast<int64_t>(std::llround(seconds));
  if (s < 3600) return fmt::format("{}m {:02}s", s / 60, s % 60);
  return fmt::format("{}h {:02}m {:02}s", s / 3600, (s / 60) % 60, s % 60);
}

// The last finite value and the smallest one, with their steps.
void AddFinalAndBest(const MetricsHistory& h, std::string_view name, const char* label,
                     Settings& rows) {
  const Series* s = h.Find(name);
  if (s == nullptr || !HasFinite(*s)) return;
  std::pair<int64_t, double> last{0, 0}, best{0, INFINITY};
  for (const auto& [step, value] : *s) {
    if (!std::isfinite(value)) continue;
    last = {step, value};
    if (value < best.second) best = {step, value};
  }
  rows.emplace_back(fmt::format("final {}", label),
                    fmt::format("{:.4f} (step {})", last.second, last.first));
  rows.emplace_back(fmt::format("best {}", label),
                    fmt::format("{:.4f} (step {})", best.second, best.first));
}

// The last finite value of a series and its step.
std::optional<std::pair<int64_t, double>> LastFinite(const MetricsHistory& h,
                                                     std::string_view name) {
  const Series* s = h.Find(name);
  if (s == nullptr) return std::nullopt;
  for (auto it = s->rbegin(); it != s->rend(); ++it) {
    if (std::isfinite(it->second)) return *it;
  }
  return std::nullopt;
}

Settings Summary(const MetricsHistory& h) {
  Settings rows;
  int64_t last_step = 0;
  for (const auto& [name, series] : h.series) {
    if (!series.empty()) last_step = std::max(last_step, series.rbegin()->first);
  }
  rows.emplace_back("steps", std::to_string(last_step));
  rows.emplace_back("lines in metrics.jsonl", std::to_string(h.n_lines));
  AddFinalAndBest(h, kMetricLoss, "loss", rows);
  AddFinalAndBest(h, kMetricEvalLoss, "eval_loss", rows);
  if (auto acc = LastFinite(h, kMetricEvalMeanTokenAccuracy)) {
    rows.emplace_back("final eval_mean_token_accuracy", fmt::format("{:.4f}", acc->second));
  }
  if (auto epoch = LastFinite(h, kMetricEpoch)) {
    rows.emplace_back("epochs", FormatNumber(epoch->second));
  }
  if (auto tokens = LastFinite(h, kMetricNumTokens)) {
    rows.emplace_back("tokens trained on", fmt::format("{:.0f}", tokens->second));
  }
  if (h.last_time > h.first_time) {
    rows.emplace_back("runtime (first to last log line)", Duration(h.last_time - h.first_time));
  }
  return rows;
}

std::string ValueText(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>()
                       : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Flatten(const nlohmann::json& v, const std::string& prefix, Settings& rows) {
  if (!v.is_object() || v.empty()) {
    rows.emplace_back(prefix, ValueText(v));
    return;
  }
  for (const auto& [key, child] : v.items()) {
    std::string name = prefix;
    if (!name.empty()) name += '.';
    name += key;
    Flatten(child, name, rows);
  }
}

std::string Table(const Settings& rows) {
  std::string html = "<table>\n";
  for (const auto& [key, value] : rows) {
    html += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", EscapeHtml(key), EscapeHtml(value));
  }
  return html + "</table>\n";
}

constexpr const char* kStyle = R"(body{font-family:system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px}
th{text-align:left;background:#f6f6f6;font-weight:600}td{font-family:ui-monospace,monospace}
.warn{color:#a40}.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}
svg{width:100%;height:auto;font-family:system-ui,sans-serif}
.title{font-weight:600;font-size:14px}.grid{stroke:#e6e6e6}.axis{stroke:#444}
.ytick{text-anchor:end;font-size:11px}.xtick{text-anchor:middle;font-size:11px}
.xlabel,.ylabel{text-anchor:middle;font-size:12px}.legend{font-size:12px})";

// The folder's own name: "runs/qwen-lora/" -> "qwen-lora".
std::string RunName(const std::string& run_dir) {
  std::filesystem::path p = std::filesystem::path(run_dir).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  return p.filename().string();
}

Settings ReadSettings(const std::string& path, std::vector<std::string>& warnings) {
  Settings settings;
  if (!FileExists(path)) return settings;
  Result<nlohmann::json> config = formats::ReadJsonFile(path, size_t{16} << 20);
  if (!config.ok()) {
    warnings.push_back(config.status().message() + " (settings table left out)");
    return settings;
  }
  Flatten(*config, "", settings);
  return settings;
}

}  // namespace

TrainReport RenderTrainReport(const std::string& title, const MetricsHistory& history,
                              const Settings& settings) {
  std::vector<std::string> svgs = Charts(history);
  std::string t = EscapeHtml(title);
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>Training report: {0}</title>\n<style>\n{1}\n</style>\n</head>\n<body>\n"
      "<h1>Training report: {0}</h1>\n",
      t, kStyle);
  for (const std::string& w : history.warnings) {
    html += fmt::format("<p class=\"warn\">{}</p>\n", EscapeHtml(w));
  }
  html += "<h2>Summary</h2>\n" + Table(Summary(history));
  html += "<h2>Charts</h2>\n<div class=\"charts\">\n";
  for (const std::string& svg : svgs) html += "<figure>\n" + svg + "</figure>\n";
  html += "</div>\n";
  if (!settings.empty()) html += "<h2>Settings (run_config.json)</h2>\n" + Table(settings);
  html += "</body>\n</html>\n";
  TrainReport report;
  report.html = std::move(html);
  report.n_charts = static_cast<int>(svgs.size());
  report.warnings = history.warnings;
  return report;
}

Result<TrainReport> RenderTrainReport(const std::string& run_dir) {
  ASSIGN_OR_RETURN(MetricsHistory history, ReadMetricsJsonl(run_dir + "/metrics.jsonl"));
  Settings settings = ReadSettings(run_dir + "/run_config.json", history.warnings);
  return RenderTrainReport(RunName(run_dir), history, settings);
}

Result<TrainReport> WriteTrainReport(const std::string& run_dir, const std::string& out_path) {
  ASSIGN_OR_RETURN(TrainReport report, RenderTrainReport(run_dir));
  report.path = out_path.empty() ? run_dir + "/report.html" : out_path;
  std::string tmp = report.path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << report.html;
    out.close();
    if (!out) return IoError(fmt::format("cannot write {}", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, report.path, ec);
  if (ec) return IoError(fmt::format("cannot write {}: {}", report.path, ec.message()));
  return report;
}

}  // namespace medassist::train
