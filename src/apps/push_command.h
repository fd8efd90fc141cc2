// The push subcommand: upload a folder to a Hugging Face repo as one commit (creating the repo
// when needed; large files through LFS), with the token in HF_TOKEN.
#pragma once

#include <CLI/CLI.hpp>

namespace medassist::apps {

// Registers push on app; its callback sets *exit_code (0 on success, 1 on error).
void AddPushCommand(CLI::App& app, int* exit_code);

}  // namespace medassist::apps
