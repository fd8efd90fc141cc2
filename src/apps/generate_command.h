// The generate subcommand: one prompt in, the model's greedy continuation streamed to stdout.
#pragma once

#include <CLI/CLI.hpp>

namespace medassist::apps {

// Registers generate on app; its callback sets *exit_code (0 on success, 1 on any error).
void AddGenerateCommand(CLI::App& app, int* exit_code);

}  // namespace medassist::apps
