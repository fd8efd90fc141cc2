// The synth-model subcommand: a Hugging Face model folder with random weights
// (model/synth_model.h).
#pragma once

#include <CLI/CLI.hpp>

namespace medassist::apps {

// Registers synth-model on app; its callback sets *exit_code (0 on success, 1 on any error).
void AddSynthModelCommand(CLI::App& app, int* exit_code);

}  // namespace medassist::apps
