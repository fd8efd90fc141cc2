// The logits subcommand: the reference forward pass's logits for a list of token ids, as JSON, so
// that the engine can be compared with other implementations (llama.cpp, Transformers) on the same
// weights. See docs/model.md, "Checking against other implementations".
#pragma once

#include <CLI/CLI.hpp>

namespace medassist::apps {

// Registers logits on app; its callback sets *exit_code (0 on success, 1 on any error).
void AddLogitsCommand(CLI::App& app, int* exit_code);

}  // namespace medassist::apps
