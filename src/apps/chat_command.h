// The chat subcommand: an interactive conversation on stdin/stdout (a terminal or a pipe).
#pragma once

#include <CLI/CLI.hpp>

namespace medassist::apps {

// Registers chat on app; its callback sets *exit_code (0 when the user leaves: /exit, end of
// input, Ctrl-C at the prompt; 1 when the model cannot be loaded).
void AddChatCommand(CLI::App& app, int* exit_code);

}  // namespace medassist::apps
