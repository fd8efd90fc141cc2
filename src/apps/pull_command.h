// The pull subcommand: download a Hugging Face repo (or the files matching --include) into the
// hub cache that huggingface_hub shares, and print the snapshot folder on stdout.
#pragma once

#include <CLI/CLI.hpp>

namespace medassist::apps {

// Registers pull on app; its callback sets *exit_code (0 on success, 1 on error).
void AddPullCommand(CLI::App& app, int* exit_code);

}  // namespace medassist::apps
