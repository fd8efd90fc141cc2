// `medassist train-report`: one self-contained HTML page for a training run folder, from its
// metrics.jsonl (and run_config.json when present): a summary table, the run's settings, and
// inline SVG charts of the train and eval curves and of the system metrics. No JavaScript and no
// external files, so the page can be mailed, attached to an issue or opened offline.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "train/metrics_history.h"

namespace medassist::train {

struct TrainReport {
  std::string html;
  int n_charts = 0;
  std::vector<std::string> warnings;  // from reading metrics.jsonl
  std::string path;                   // where WriteTrainReport wrote it
};

// (key, value) rows of a settings table; nested objects as dotted keys ("lora.rank").
using Settings = std::vector<std::pair<std::string, std::string>>;

// Builds the page from RUN_DIR/metrics.jsonl and RUN_DIR/run_config.json (optional).
Result<TrainReport> RenderTrainReport(const std::string& run_dir);
// The same page from parts already read.
TrainReport RenderTrainReport(const std::string& title, const MetricsHistory& history,
                              const Settings& settings);

// Renders the page and writes it to out_path (RUN_DIR/report.html when empty).
Result<TrainReport> WriteTrainReport(const std::string& run_dir, const std::string& out_path);

}  // namespace medassist::train
