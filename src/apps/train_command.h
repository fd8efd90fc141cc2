// The train subcommand: LoRA fine-tuning of a Qwen2.5 model on medical-o1 SFT rows
// (train/trainer.h, docs/training.md); with --nproc N it starts N data-parallel processes of
// itself, as torchrun does, and waits for them.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace medassist::apps {

// Registers train on app; its callback sets *exit_code (0 on success, 1 on error). argv: the
// program's arguments, which --nproc starts its processes with.
void AddTrainCommand(CLI::App& app, std::vector<std::string> argv, int* exit_code);

}  // namespace medassist::apps
