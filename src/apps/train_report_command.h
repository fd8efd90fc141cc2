// The train-report subcommand: one self-contained HTML page (summary, settings, SVG charts) for a
// training run folder, from its metrics.jsonl and run_config.json.
#pragma once

#include <CLI/CLI.hpp>

namespace medassist::apps {

// Registers train-report on app; its callback sets *exit_code (0 on success, 1 on error).
void AddTrainReportCommand(CLI::App& app, int* exit_code);

}  // namespace medassist::apps
