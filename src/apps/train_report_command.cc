#include "apps/train_report_command.h"

#include <cstdio>
#include <memory>
#include <string>

#include "apps/options.h"
#include "train/train_report.h"

namespace medassist::apps {
namespace {

struct TrainReportArgs {
  std::string run_dir, out;
};

int RunTrainReport(const TrainReportArgs& a) {
  Result<train::TrainReport> report = train::WriteTrainReport(a.run_dir, a.out);
  if (!report.ok()) {
    std::fprintf(stderr, "error: %s\n", report.status().ToString().c_str());
    return 1;
  }
  for (const std::string& w : report->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  std::fprintf(stderr, "wrote %d charts\n", report->n_charts);
  std::printf("%s\n", report->path.c_str());
  return 0;
}

}  // namespace

void AddTrainReportCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<TrainReportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "train-report",
      "Write one self-contained HTML page (summary, settings, charts) for a training run folder "
      "from its metrics.jsonl and run_config.json");
  cmd->add_option("run_dir", args->run_dir, "Training run folder (holds metrics.jsonl)")
      ->required();
  AddDeclaredOption(*cmd, "--out", args->out);
  cmd->callback([args, exit_code] { *exit_code = RunTrainReport(*args); });
}

}  // namespace medassist::apps
