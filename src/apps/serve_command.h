// The serve subcommand: the HTTP API (server/) in front of the local engine.
#pragma once

#include <CLI/CLI.hpp>

namespace medassist::apps {

// Registers serve on app; its callback sets *exit_code (0 after a clean shutdown, 1 on errors).
void AddServeCommand(CLI::App& app, int* exit_code);

}  // namespace medassist::apps
