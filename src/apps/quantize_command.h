// The quantize subcommand, in the manner of llama-quantize: `medassist quantize IN OUT.gguf --type
// Q4_K_M`. A thin front end of model/gguf_export.h (IN: a Hugging Face folder, a .gguf file or a
// cached repo id) that prints a per-type summary of what it wrote.
#pragma once

#include <CLI/CLI.hpp>

namespace medassist::apps {

// Registers quantize on app; its callback sets *exit_code (0 on success, 1 on any error).
void AddQuantizeCommand(CLI::App& app, int* exit_code);

}  // namespace medassist::apps
