// The export-gguf subcommand: a Hugging Face Qwen2 / Llama folder to one GGUF file that llama.cpp
// runs (model/gguf_export.h).
#pragma once

#include <CLI/CLI.hpp>

namespace medassist::apps {

// Registers export-gguf on app; its callback sets *exit_code (0 on success, 1 on any error).
void AddExportGgufCommand(CLI::App& app, int* exit_code);

}  // namespace medassist::apps
