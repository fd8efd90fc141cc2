// The bench subcommand: prompt processing (pp) and generation (tg) speed of the forward pass, in
// the manner of llama-bench so the two can be compared line by line (see docs/performance.md).
#pragma once

#include <CLI/CLI.hpp>

namespace medassist::apps {

// Registers bench on app; its callback sets *exit_code (0 on success, 1 on any error).
void AddBenchCommand(CLI::App& app, int* exit_code);

}  // namespace medassist::apps
